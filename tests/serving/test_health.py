"""Probes: `/healthz` needs nothing but the process; `/readyz` names what keeps the pod from
serving (database, migrations, broker) and answers 503 until it can."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from control_plane.celery import app as celery_app
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
# The kubelet addresses a pod by its IP, which is never in ALLOWED_HOSTS.
POD_HOST = "10.244.1.17:8000"


def test_healthz_answers_without_a_database_and_from_a_pod_address(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/healthz", HTTP_HOST=POD_HOST)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_is_ready_with_database_migrations_and_broker(client, redis_broker):
    response = client.get("/readyz", HTTP_HOST=POD_HOST)
    assert response.status_code == 200, response.content
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "migrations": "ok", "broker": "ok"},
    }


@pytest.mark.django_db
def test_readyz_names_an_unapplied_migration(client, redis_broker):
    with connection.cursor() as cursor:
        # Rolled back with the test's transaction.
        cursor.execute(
            "DELETE FROM django_migrations WHERE app = 'tenants' AND name = "
            "(SELECT max(name) FROM django_migrations WHERE app = 'tenants') RETURNING name"
        )
        (latest,) = cursor.fetchone()
    response = client.get("/readyz", HTTP_HOST=POD_HOST)
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["migrations"]
    assert body["checks"]["migrations"] == f"1 unapplied: tenants.{latest}"


@pytest.mark.django_db
def test_readyz_fails_when_the_broker_is_unreachable(client, settings):
    settings.READINESS_TIMEOUT_SECONDS = 1
    previous = celery_app.conf.broker_url, celery_app.conf.broker_transport_options
    celery_app.conf.broker_url = f"redis://127.0.0.1:{free_port()}/0"
    celery_app.conf.broker_transport_options = {}
    try:
        response = client.get("/readyz", HTTP_HOST=POD_HOST)
    finally:
        celery_app.conf.broker_url, celery_app.conf.broker_transport_options = previous
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["broker"]
    assert body["checks"]["broker"].startswith("unreachable: ")


def test_readyz_goes_red_when_the_database_is_unreachable(redis_url):
    """A fresh process whose DATABASE_URL points at a closed port: nothing is mocked."""
    closed = free_port()
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://nobody:nothing@127.0.0.1:{closed}/control_plane",
        "CELERY_BROKER_URL": redis_url,
        "READINESS_TIMEOUT_SECONDS": "1",
    }
    script = (
        "import django, json; django.setup()\n"
        "from django.test import Client\n"
        f"reply = Client().get('/readyz', HTTP_HOST={POD_HOST!r})\n"
        "print(json.dumps({'status': reply.status_code, 'body': reply.json()}))\n"
        f"print(Client().get('/healthz', HTTP_HOST={POD_HOST!r}).status_code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    readiness_line, liveness_line = done.stdout.strip().splitlines()[-2:]
    readiness = json.loads(readiness_line)
    assert readiness["status"] == 503
    assert readiness["body"]["status"] == "not ready"
    assert readiness["body"]["failed"] == ["database", "migrations"]
    assert readiness["body"]["checks"]["database"].startswith("unreachable: ")
    assert str(closed) in readiness["body"]["checks"]["database"]
    assert readiness["body"]["checks"]["broker"] == "ok"
    # Liveness does not follow the database down: restarting pods would not bring it back.
    assert liveness_line == "200"
