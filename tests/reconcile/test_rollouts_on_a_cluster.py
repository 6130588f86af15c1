"""Rollouts against the fake API server: the canary's readiness comes from its Deployment's
status, the weights reach the live HTTPRoute, and a failing rollout reconcile is visible."""

from __future__ import annotations

import pytest

from control_plane.audit.models import AuditEvent
from control_plane.cluster import ObjectRef
from control_plane.conditions import condition
from endpoints import services as endpoint_services
from endpoints import tasks
from endpoints.models import Rollout
from endpoints.reconciler import reconcile_endpoint
from endpoints.rollouts.reconciler import reconcile_rollout
from endpoints.rollouts.services import rollout_start
from tenants.reconciler import reconcile_tenant
from tests.factories import system
from tests.fakes.kube_state import PodProblem
from tests.world import gpu_model_spec

pytestmark = pytest.mark.django_db

CANARY = ObjectRef("apps/v1", "Deployment", "tenant-acme", "chat-r2")
ROUTE = ObjectRef("gateway.networking.k8s.io/v1", "HTTPRoute", "tenant-acme", "chat")


@pytest.fixture
def started(world, kube_backend, settings):
    settings.ROLLOUT_DRAIN_SECONDS = 0
    reconcile_tenant(world.own.pk, backend=kube_backend)
    reconcile_endpoint(world.own_endpoint.pk, backend=kube_backend)
    version = endpoint_services.model_version_create(
        actor=system(), tenant=None, spec=gpu_model_spec(version="2")
    )
    return rollout_start(
        actor=system(), endpoint=world.own_endpoint, model_version=version, settings={}
    )


def _tick(world, rollout, backend) -> Rollout:
    reconcile_endpoint(world.own_endpoint.pk, backend=backend)
    result = reconcile_rollout(rollout.pk, backend=backend)
    reconcile_endpoint(world.own_endpoint.pk, backend=backend)
    rollout.refresh_from_db()
    rollout.result = result
    return rollout


def test_a_ready_canary_gets_its_first_step_on_the_live_route(world, kube_backend, started):
    rollout = _tick(world, started, kube_backend)
    assert kube_backend.get(CANARY)["status"]["readyReplicas"] >= 1
    assert rollout.weight == 10
    backends = kube_backend.get(ROUTE)["spec"]["rules"][0]["backendRefs"]
    assert [(b["name"], b["weight"]) for b in backends] == [("chat-r1", 90), ("chat-r2", 10)]


def test_a_canary_that_cannot_pull_its_image_is_rolled_back_and_removed(
    world, kube_backend, kube_apiserver, started
):
    kube_apiserver.hold_pods(
        "tenant-acme", "chat-r2", PodProblem("ImagePullBackOff", 'Back-off pulling image "x"')
    )
    rollout = _tick(world, started, kube_backend)
    assert rollout.state == Rollout.State.ROLLED_BACK
    assert "ImagePullBackOff" in rollout.message
    assert AuditEvent.objects.filter(action="rollout.rollback").exists()
    backends = kube_backend.get(ROUTE)["spec"]["rules"][0]["backendRefs"]
    assert [b["name"] for b in backends] == ["chat-r1"]
    rollout = _tick(world, rollout, kube_backend)  # drained (ROLLOUT_DRAIN_SECONDS = 0)
    assert rollout.retired_at is not None
    assert kube_backend.get(CANARY) is None


def test_a_failing_rollout_reconcile_shows_degraded_and_is_audited_once(
    world, kube_backend, kube_apiserver, started
):
    reconcile_endpoint(world.own_endpoint.pk, backend=kube_backend)
    kube_apiserver.fail_next(5, status=403, message="forbidden: deployments", method="GET")
    # Forbidden will not pass by retrying: recorded, not raised.
    assert reconcile_rollout(started.pk, backend=kube_backend) == "failed"
    started.refresh_from_db()
    degraded = condition(started.conditions, "Degraded")
    assert degraded["status"] == "True"
    assert degraded["reason"] == "Forbidden"
    failures = AuditEvent.objects.filter(action="rollout.reconcile", outcome="failure")
    assert failures.count() == 1


def test_the_analysis_beat_queues_each_due_rollout_once_on_the_analysis_queue(started, monkeypatch):
    sent: list[tuple[str, int, str]] = []
    monkeypatch.setattr(
        tasks, "send_reconcile", lambda name, pk, queue: sent.append((name, pk, queue))
    )
    monkeypatch.setattr(tasks, "queued_message_count", lambda queue: 1)
    Rollout.objects.update(reconcile_queued_until=None)
    for _ in range(20):
        tasks.analyse_rollouts()
    assert sent == [("endpoints.reconcile_rollout", started.pk, "analysis")]


def test_deleting_an_endpoint_mid_rollout_removes_both_revisions_and_the_rollout(
    world, kube_backend, started
):
    _tick(world, started, kube_backend)
    endpoint_services.endpoint_delete(actor=system(), endpoint=world.own_endpoint)
    reconcile_rollout(started.pk, backend=kube_backend)
    assert Rollout.objects.get(pk=started.pk).state == Rollout.State.ABORTED
    assert reconcile_endpoint(world.own_endpoint.pk, backend=kube_backend) == "deleted"
    assert not Rollout.objects.filter(pk=started.pk).exists()
    assert kube_backend.get(CANARY) is None
    assert kube_backend.get(ROUTE) is None
