"""A real Celery worker (its own process) with the test Redis provisions an endpoint created
through the API into the fake Kubernetes API server, and the endpoint reaches Ready."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from rest_framework.test import APIClient

from control_plane.celery import app as celery_app
from control_plane.cluster import ObjectRef
from control_plane.cluster.kubernetes_backend import KubernetesBackend
from endpoints.models import Endpoint
from tests.factories import platform_user
from tests.fakes.conftest_plugin import kube_apiserver  # noqa: F401  (fixture)
from tests.fakes.kube_apiserver import platform_namespaces
from tests.world import gpu_model_spec

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]
ROOT = Path(__file__).resolve().parents[2]
CELERY = [sys.executable, "-m", "celery", "-A", "control_plane"]


def _database_url() -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture
def broker(redis_url):
    """Point this process's Celery producer at the test Redis."""
    previous = celery_app.conf.broker_url, celery_app.conf.broker_transport_options
    celery_app.conf.broker_url, celery_app.conf.broker_transport_options = redis_url, {}
    _forget_connections()
    yield redis_url
    celery_app.conf.broker_url, celery_app.conf.broker_transport_options = previous
    _forget_connections()


def _forget_connections() -> None:
    # The app caches its connection and producer pools on first use; new ones read the new URL.
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@contextmanager
def worker_process(broker_url: str, cluster: dict[str, str], log_path: Path) -> Iterator[None]:
    """A real Celery worker in its own process, on this test's database and broker, with the
    cluster backend settings given; its log is printed if it ends badly."""
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": broker_url,
        "READINESS_RECHECK_SECONDS": "1",
        **cluster,
    }
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [*CELERY, "worker", "--pool", "solo", "--loglevel", "INFO", "--without-mingle"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield
        finally:
            process.terminate()
            process.wait(timeout=30)
    if process.returncode not in (0, -15):
        print(log_path.read_text())


@pytest.fixture
def worker(broker, kube_apiserver, tmp_path):  # noqa: F811
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "fake", "cluster": {"server": kube_apiserver.url}}],
                "users": [{"name": "fake", "user": {"token": "test"}}],
                "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
                "current-context": "fake",
            }
        )
    )
    backend = KubernetesBackend(kube_apiserver.api_client())
    backend.apply(platform_namespaces())
    cluster = {"CLUSTER_BACKEND": "kubernetes", "KUBECONFIG": str(kubeconfig)}
    with worker_process(broker, cluster, tmp_path / "worker.log"):
        yield backend


def _wait_for(predicate, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError("condition not reached in time")


def test_endpoint_created_through_the_api_is_provisioned_and_becomes_ready(worker):
    from endpoints.services import model_version_create
    from tests.factories import system

    model = model_version_create(actor=system(), tenant=None, spec=gpu_model_spec())
    client = APIClient()
    client.force_login(platform_user("admin"))
    tenant = client.post(
        "/api/v1/tenants/",
        {
            "slug": "acme",
            "display_name": "Acme",
            "quota": {"gpus": 4, "max_endpoints": 2, "cpu": "64", "memory": "512Gi"},
        },
        format="json",
    )
    assert tenant.status_code == 201, tenant.content
    created = client.post(
        "/api/v1/tenants/acme/endpoints/",
        {
            "name": "chat",
            "model_version": model.pk,
            "scaling": {"min_replicas": 1, "max_replicas": 2},
        },
        format="json",
    )
    assert created.status_code == 201, created.content

    deployment = ObjectRef("apps/v1", "Deployment", "tenant-acme", "chat-r1")
    _wait_for(lambda: worker.get(deployment), timeout=30)

    def ready():
        body = client.get("/api/v1/tenants/acme/endpoints/chat/").json()
        conditions = {c["type"]: c for c in body["conditions"]}
        return conditions.get("Ready", {}).get("status") == "True" and body

    body = _wait_for(ready)
    assert body["observed_generation"] == body["generation"]
    assert body["ready_replicas"] >= 1
    assert worker.get(ObjectRef("gateway.networking.k8s.io/v1", "HTTPRoute", "tenant-acme", "chat"))
    assert Endpoint.objects.get(name="chat").last_reconciled_at is not None
