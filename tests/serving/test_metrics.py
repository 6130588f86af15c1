"""The control plane's own metrics: observed per route and per reconcile kind, and computed
from the database and the broker when `/metrics` is scraped."""

from __future__ import annotations

import pytest
from django.test import Client
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from control_plane.audit.services import record
from control_plane.celery import app as celery_app
from control_plane.cluster.directory_backend import DirectoryBackend
from tenants.reconciler import reconcile_tenant
from tests.factories import system
from tests.world import build_world


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _scrape(client: Client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", HTTP_HOST="10.244.1.17:8000")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def test_request_latency_is_observed_per_route_name_not_per_path(client):
    name = "control_plane_http_request_duration_seconds_count"
    before = _sample(name, route="login", method="GET")
    unresolved = _sample(name, route="unresolved", method="GET")
    assert client.get("/login/").status_code == 200
    assert client.get("/login/").status_code == 200
    assert client.get("/no/such/page-4711/").status_code == 404
    assert _sample(name, route="login", method="GET") == before + 2
    # Unknown paths share one label value: a scanner cannot grow the series without bound.
    assert _sample(name, route="unresolved", method="GET") == unresolved + 1


@pytest.mark.urls("tests.serving.failing_urls")
def test_server_errors_are_counted_per_route():
    name = "control_plane_http_request_errors_total"
    labels = {"route": "always-fails", "method": "GET", "status": "500"}
    before = _sample(name, **labels)
    client = Client(raise_request_exception=False)
    assert client.get("/fails/1/").status_code == 500
    assert client.get("/fails/2/").status_code == 500
    assert _sample(name, **labels) == before + 2


@pytest.mark.django_db
def test_reconcile_outcome_and_duration_are_observed_per_kind(tmp_path):
    world = build_world()
    name = "control_plane_reconcile_duration_seconds_count"
    before = _sample(name, kind="tenant", outcome="applied")
    unchanged = _sample(name, kind="tenant", outcome="unchanged")
    backend = DirectoryBackend(tmp_path / "manifests")
    assert reconcile_tenant(world.own.pk, backend=backend) == "applied"
    assert reconcile_tenant(world.own.pk, backend=backend) == "unchanged"
    assert _sample(name, kind="tenant", outcome="applied") == before + 1
    assert _sample(name, kind="tenant", outcome="unchanged") == unchanged + 1
    assert _sample("control_plane_reconcile_duration_seconds_sum", kind="tenant", outcome="applied")


@pytest.mark.django_db
def test_scrape_reports_queue_depth_audit_chains_and_rollout_transitions(client, redis_broker):
    with celery_app.connection_for_write() as connection:
        connection.default_channel.queue_purge("analysis")
    celery_app.send_task("endpoints.analyse_rollouts", queue="analysis")
    celery_app.send_task("endpoints.analyse_rollouts", queue="analysis")
    for action in ("rollout.start", "rollout.promote", "rollout.start"):
        record(
            actor=system(),
            action=action,
            target_type="rollout",
            target_id="7",
            tenant_slug="acme",
        )
    try:
        samples = _scrape(client)
    finally:
        with celery_app.connection_for_write() as connection:
            connection.default_channel.queue_purge("analysis")
    assert samples[("control_plane_celery_queue_messages", (("queue", "analysis"),))] == 2
    assert samples[("control_plane_audit_chain_length", (("chain", "tenant:acme"),))] == 3
    transitions = "control_plane_rollout_transitions_total"
    assert samples[(transitions, (("action", "rollout.start"), ("outcome", "success")))] == 2
    assert samples[(transitions, (("action", "rollout.promote"), ("outcome", "success")))] == 1
    assert samples[("control_plane_rollouts", (("state", "paused"),))] == 0
    assert samples[("control_plane_metrics_source_up", (("source", "database"),))] == 1
    assert samples[("control_plane_metrics_source_up", (("source", "broker"),))] == 1
