"""Every failure of a reconcile shows on the object, not only the cluster's errors: a condition
with a CamelCase reason and a message, one audit event when it starts, and healing after."""

from __future__ import annotations

import errno

import pytest
from django.test import override_settings

from control_plane.audit.models import AuditEvent
from control_plane.cluster import ObjectRef
from control_plane.cluster.directory_backend import DirectoryBackend
from control_plane.conditions import condition
from control_plane.errors import Conflict
from endpoints.models import Endpoint
from endpoints.reconciler import reconcile_endpoint
from tenants import services as tenant_services
from tenants.models import Tenant
from tenants.reconciler import reconcile_tenant
from tests.factories import system

pytestmark = pytest.mark.django_db


class BrokenDisk(DirectoryBackend):
    """A manifest directory that refuses writes until `error` is cleared."""

    error: OSError | None = None

    def apply(self, objects, **options):
        if self.error is not None:
            raise self.error
        return super().apply(objects, **options)


def _condition(obj, type_: str) -> dict:
    obj.refresh_from_db()
    return condition(obj.conditions, type_)


def _failures(action: str) -> int:
    return AuditEvent.objects.filter(action=action, outcome="failure").count()


def test_an_unwritable_manifest_directory_shows_degraded_then_heals(world, tmp_path):
    backend = BrokenDisk(tmp_path / "manifests")
    reconcile_tenant(world.own.pk, backend=backend)
    backend.error = PermissionError(errno.EACCES, "Permission denied", str(tmp_path))

    for _ in range(2):
        with pytest.raises(PermissionError):
            reconcile_endpoint(world.own_endpoint.pk, backend=backend)
    degraded = _condition(world.own_endpoint, "Degraded")
    assert (degraded["status"], degraded["reason"]) == ("True", "PermissionDenied")
    assert str(tmp_path) in degraded["message"]
    assert _condition(world.own_endpoint, "Ready")["status"] == "False"
    assert _failures("endpoint.reconcile") == 1  # when it started failing, not per retry

    backend.error = None
    reconcile_endpoint(world.own_endpoint.pk, backend=backend)
    assert _condition(world.own_endpoint, "Degraded")["status"] == "False"
    assert _condition(world.own_endpoint, "Ready")["reason"] == "ManifestsWritten"


def test_a_full_disk_under_a_tenant_shows_degraded_with_the_reason(world, tmp_path):
    backend = BrokenDisk(tmp_path / "manifests")
    backend.error = OSError(errno.ENOSPC, "No space left on device", str(tmp_path))
    with pytest.raises(OSError, match="No space left"):
        reconcile_tenant(world.own.pk, backend=backend)
    degraded = _condition(world.own, "Degraded")
    assert (degraded["status"], degraded["reason"]) == ("True", "StorageFull")
    assert _failures("tenant.reconcile") == 1


@override_settings(GPU_POOLS=[{"name": "mig-only", "mig_profiles": ["1g.10gb"]}])
def test_a_render_refused_by_todays_settings_shows_degraded_without_retrying(world, tmp_path):
    backend = DirectoryBackend(tmp_path / "manifests")
    Tenant.objects.filter(pk=world.own.pk).update(last_reconciled_at="2026-01-01T00:00:00Z")
    assert reconcile_endpoint(world.own_endpoint.pk, backend=backend) == "failed"
    degraded = _condition(world.own_endpoint, "Degraded")
    assert degraded["reason"] == "RenderFailed"
    assert "No configured GPU pool" in degraded["message"]
    endpoint = Endpoint.objects.get(pk=world.own_endpoint.pk)
    assert endpoint.observed_generation == endpoint.generation


def test_a_tenant_stays_deleting_until_its_namespace_is_gone(world, kube_backend, kube_apiserver):
    reconcile_tenant(world.own.pk, backend=kube_backend)
    reconcile_endpoint(world.own_endpoint.pk, backend=kube_backend)
    # The KEDA operator puts a finalizer on every ScaledObject it manages.
    kube_apiserver.hand_edit(
        "keda.sh/v1alpha1",
        "ScaledObject",
        "tenant-acme",
        "chat-r1",
        lambda body: body["metadata"].update(finalizers=["finalizer.keda.sh"]),
    )
    tenant_services.tenant_delete(actor=system(), tenant=world.own)

    assert reconcile_tenant(world.own.pk, backend=kube_backend) == "waiting"
    namespace = kube_backend.get(ObjectRef("v1", "Namespace", None, "tenant-acme"))
    assert namespace["status"]["phase"] == "Terminating"
    assert _condition(world.own, "Progressing")["reason"] == "NamespaceTerminating"
    with pytest.raises(Conflict, match="still being deleted"):
        tenant_services.tenant_create(actor=system(), slug="acme", display_name="Acme again")

    kube_apiserver.remove_finalizers("keda.sh/v1alpha1", "ScaledObject", "tenant-acme", "chat-r1")
    assert reconcile_tenant(world.own.pk, backend=kube_backend) == "deleted"
    assert not Tenant.objects.filter(slug="acme").exists()
    assert kube_backend.get(ObjectRef("v1", "Namespace", None, "tenant-acme")) is None
