"""A Celery worker serves the reconcile metrics its pool processes observe: the prefork children
write to the multiprocess directory, the worker's main process answers on CELERY_METRICS_PORT."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from control_plane.celery import app as celery_app
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
CELERY = [str(Path(sys.executable).parent / "celery"), "-A", "control_plane"]
GONE = 'control_plane_reconcile_duration_seconds_count{kind="tenant",outcome="gone"}'


def _database_url() -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as reply:
        return reply.read().decode()


@pytest.mark.integration
@pytest.mark.django_db
def test_a_worker_serves_the_reconcile_outcomes_of_its_pool(redis_broker, tmp_path):
    port = free_port()
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": redis_broker,
        "CELERY_METRICS_PORT": str(port),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
    }
    (tmp_path / "prometheus").mkdir()
    log = (tmp_path / "worker.log").open("w+")
    process = subprocess.Popen(
        [*CELERY, "worker", "--pool", "prefork", "--concurrency", "1", "--without-mingle",
         "--without-gossip", "-Q", "celery", "--loglevel", "INFO"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        # A tenant that does not exist: the driver observes the outcome `gone`.
        celery_app.send_task("tenants.reconcile_tenant", args=[987654321], queue="celery")
        deadline, metrics = time.monotonic() + 60, ""
        while GONE not in metrics:
            assert process.poll() is None, log.read()
            assert time.monotonic() < deadline, log.read()
            with contextlib.suppress(OSError):  # not listening yet
                metrics = _scrape(port)
            time.sleep(0.25)
        assert f"{GONE} 1.0" in metrics
        # The child's samples are files in the multiprocess directory, summed by the parent.
        assert list((tmp_path / "prometheus").glob("histogram_*.db"))
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
