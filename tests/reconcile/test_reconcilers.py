"""Reconcilers against the fake API server (kubernetes backend) and the directory backend."""

from __future__ import annotations

import pytest

from control_plane.audit.models import AuditEvent
from control_plane.cluster import ObjectRef
from control_plane.conditions import condition
from control_plane.reconcile import Claim, Lease, claim
from endpoints import services as endpoint_services
from endpoints.models import Endpoint
from endpoints.reconciler import PAUSED_REPLICAS_ANNOTATION, reconcile_endpoint
from scaling.policy import parse_change
from tenants import services as tenant_services
from tenants.models import Quota, Tenant
from tenants.reconciler import reconcile_tenant
from tests.factories import system

pytestmark = pytest.mark.django_db


def _reconcile_all(world, backend) -> None:
    for tenant in (world.own, world.foreign):
        assert reconcile_tenant(tenant.pk, backend=backend) in ("applied", "unchanged")
    for endpoint in (world.own_endpoint, world.foreign_endpoint):
        reconcile_endpoint(endpoint.pk, backend=backend)


def _status(endpoint: Endpoint, type_: str) -> dict:
    endpoint.refresh_from_db()
    return condition(endpoint.conditions, type_)


def test_tenant_reconcile_creates_its_namespace_and_reads_quota_usage(world, kube_backend):
    assert reconcile_tenant(world.own.pk, backend=kube_backend) == "applied"
    namespace = kube_backend.get(ObjectRef("v1", "Namespace", None, "tenant-acme"))
    assert namespace is not None
    quota = kube_backend.get(ObjectRef("v1", "ResourceQuota", "tenant-acme", "tenant-quota"))
    assert quota["spec"]["hard"]["requests.nvidia.com/gpu"] == "8"
    world.own.refresh_from_db()
    assert world.own.observed_generation == world.own.generation
    assert condition(world.own.conditions, "Ready")["status"] == "True"
    assert world.own.quota_used is not None
    assert AuditEvent.objects.filter(action="tenant.reconcile", actor_type="system").exists()


def test_endpoint_reconcile_applies_its_objects_and_reaches_ready(world, kube_backend):
    _reconcile_all(world, kube_backend)
    endpoint = world.own_endpoint
    assert kube_backend.get(ObjectRef("apps/v1", "Deployment", "tenant-acme", "chat-r1"))
    scaled = kube_backend.get(
        ObjectRef("keda.sh/v1alpha1", "ScaledObject", "tenant-acme", "chat-r1")
    )
    assert scaled["spec"]["maxReplicaCount"] == 2
    assert _status(endpoint, "Ready")["status"] == "True"
    assert endpoint.observed_generation == endpoint.generation
    assert endpoint.ready_replicas >= 1


def test_the_autoscalers_desired_replicas_are_read_back(world, kube_backend, kube_apiserver):
    _reconcile_all(world, kube_backend)
    kube_apiserver.set_replicas("tenant-acme", "chat-r1", 2)
    reconcile_endpoint(world.own_endpoint.pk, backend=kube_backend)
    world.own_endpoint.refresh_from_db()
    assert world.own_endpoint.desired_replicas == 2


def test_a_second_reconcile_sends_no_write(world, kube_backend, kube_apiserver):
    _reconcile_all(world, kube_backend)
    kube_apiserver.reset_log()
    _reconcile_all(world, kube_backend)
    assert kube_apiserver.write_count() == 0


def test_server_errors_beyond_retries_degrade_then_heal_on_the_next_reconcile(
    world, kube_backend, kube_apiserver
):
    reconcile_tenant(world.own.pk, backend=kube_backend)
    # As many failures as the backend's retry budget (4 attempts): the reconcile gives up.
    kube_apiserver.fail_next(4, status=500, method="PATCH")
    with pytest.raises(Exception, match=r"500|server"):
        reconcile_endpoint(world.own_endpoint.pk, backend=kube_backend)
    degraded = _status(world.own_endpoint, "Degraded")
    assert degraded["status"] == "True"
    assert world.own_endpoint.observed_generation == 0  # not observed: the resync retries
    assert reconcile_endpoint(world.own_endpoint.pk, backend=kube_backend) == "applied"
    assert _status(world.own_endpoint, "Degraded")["status"] == "False"
    assert _status(world.own_endpoint, "Ready")["status"] == "True"


def test_forbidden_ends_degraded_with_the_servers_message_and_no_retry(
    world, kube_backend, kube_apiserver
):
    reconcile_tenant(world.own.pk, backend=kube_backend)
    kube_apiserver.reset_log()
    kube_apiserver.fail_next(
        1, status=403, message="deployments.apps is forbidden: policy says no", method="PATCH"
    )
    assert reconcile_endpoint(world.own_endpoint.pk, backend=kube_backend) == "failed"
    assert len([r for r in kube_apiserver.requests() if r.method == "PATCH"]) == 1
    degraded = _status(world.own_endpoint, "Degraded")
    assert degraded["reason"] == "Forbidden"
    assert "policy says no" in degraded["message"]
    endpoint = world.own_endpoint
    assert endpoint.observed_generation == endpoint.generation
    assert endpoint.next_check_at is not None
    failure = AuditEvent.objects.get(action="endpoint.reconcile", outcome="failure")
    assert "policy says no" in failure.reason


def test_quota_rejection_of_pods_shows_degraded_with_the_quota_message(world, kube_backend):
    Quota.objects.filter(tenant=world.own).update(gpus=0)
    world.own.refresh_from_db()
    reconcile_tenant(world.own.pk, backend=kube_backend)
    reconcile_endpoint(world.own_endpoint.pk, backend=kube_backend)
    degraded = _status(world.own_endpoint, "Degraded")
    assert degraded["reason"] == "QuotaExceeded"
    assert "exceeded quota" in degraded["message"]
    assert _status(world.own_endpoint, "Ready")["status"] == "False"


def test_endpoint_waits_for_its_namespace(world, kube_backend):
    assert reconcile_endpoint(world.own_endpoint.pk, backend=kube_backend) == "waiting"
    assert _status(world.own_endpoint, "Progressing")["reason"] == "WaitingForNamespace"


def test_raising_min_replicas_prunes_the_interceptor_route(world, kube_backend):
    endpoint_services.endpoint_update_scaling(
        actor=system(), endpoint=world.own_endpoint, change=parse_change({"min_replicas": 0})
    )
    _reconcile_all(world, kube_backend)
    route = ObjectRef("http.keda.sh/v1beta1", "InterceptorRoute", "tenant-acme", "chat")
    assert kube_backend.get(route) is not None
    endpoint_services.endpoint_update_scaling(
        actor=system(), endpoint=world.own_endpoint, change=parse_change({"min_replicas": 1})
    )
    reconcile_endpoint(world.own_endpoint.pk, backend=kube_backend)
    assert kube_backend.get(route) is None


def test_deleting_an_endpoint_removes_its_objects_then_its_row(world, kube_backend):
    _reconcile_all(world, kube_backend)
    endpoint_services.endpoint_delete(actor=system(), endpoint=world.own_endpoint)
    assert reconcile_endpoint(world.own_endpoint.pk, backend=kube_backend) == "deleted"
    assert not Endpoint.objects.filter(pk=world.own_endpoint.pk).exists()
    assert kube_backend.get(ObjectRef("apps/v1", "Deployment", "tenant-acme", "chat-r1")) is None
    assert kube_backend.get(ObjectRef("apps/v1", "Deployment", "tenant-globex", "chat-r1"))
    assert AuditEvent.objects.filter(action="endpoint.deleted").exists()


def test_deleting_a_tenant_removes_its_namespace_and_rows(world, kube_backend):
    _reconcile_all(world, kube_backend)
    tenant_services.tenant_delete(actor=system(), tenant=world.own)
    assert reconcile_tenant(world.own.pk, backend=kube_backend) == "deleted"
    assert not Tenant.objects.filter(slug="acme").exists()
    assert kube_backend.get(ObjectRef("v1", "Namespace", None, "tenant-acme")) is None
    assert kube_backend.get(ObjectRef("v1", "Namespace", None, "tenant-globex"))


def test_suspending_a_tenant_pauses_its_endpoints_at_zero(world, kube_backend):
    _reconcile_all(world, kube_backend)
    tenant_services.tenant_update(actor=system(), tenant=world.own, state="suspended")
    reconcile_endpoint(world.own_endpoint.pk, backend=kube_backend)
    scaled = kube_backend.get(
        ObjectRef("keda.sh/v1alpha1", "ScaledObject", "tenant-acme", "chat-r1")
    )
    assert scaled["metadata"]["annotations"][PAUSED_REPLICAS_ANNOTATION] == "0"
    assert _status(world.own_endpoint, "Ready")["reason"] == "TenantSuspended"


def test_one_reconcile_per_object_at_a_time(world):
    assert isinstance(claim(Endpoint, world.own_endpoint.pk), Lease)
    assert claim(Endpoint, world.own_endpoint.pk) is Claim.BUSY
    assert reconcile_endpoint(world.own_endpoint.pk, backend=None) == "busy"


def test_a_reconcile_of_a_deleted_object_ends_quietly_as_gone(world):
    pk = world.foreign.pk
    Tenant.objects.filter(pk=pk).delete()
    assert claim(Tenant, pk) is Claim.GONE
    assert reconcile_tenant(pk, backend=None) == "gone"


def test_directory_backend_output_is_byte_identical_across_runs(world, tmp_path):
    from control_plane.cluster.directory_backend import DirectoryBackend

    trees = []
    for run in ("first", "second"):
        backend = DirectoryBackend(tmp_path / run)
        _reconcile_all(world, backend)
        _reconcile_all(world, backend)
        root = tmp_path / run
        trees.append({p.relative_to(root): p.read_bytes() for p in root.rglob("*.yaml")})
    assert trees[0] == trees[1]
    assert any("deployment" in str(path) for path in trees[0])
