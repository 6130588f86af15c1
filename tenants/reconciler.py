"""Tenant → namespace, quota and guard rails in the cluster; deletion tears them down."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from control_plane.audit.services import record
from control_plane.auth.principal import Principal
from control_plane.cluster import ClusterBackend, ObjectRef
from control_plane.cluster.sync import delete_all, sync_objects
from control_plane.conditions import set_condition
from control_plane.reconcile import next_check
from control_plane.reconcile_driver import Outcome, run, system_actor
from control_plane.render_context import RenderContext
from tenants.manifests import TENANT_KINDS, TENANT_LABEL, tenant_objects
from tenants.models import Tenant

logger = logging.getLogger(__name__)


def _scopes(tenant: Tenant, context: RenderContext) -> list[tuple[str, str, str | None]]:
    scopes = []
    for api_version, kind in TENANT_KINDS:
        if kind == "Namespace":
            scopes.append((api_version, kind, None))
        elif kind == "ReferenceGrant":
            scopes.append((api_version, kind, context.keda_http_namespace))
        else:
            scopes.append((api_version, kind, tenant.namespace))
    return scopes


def _quota_used(backend: ClusterBackend, desired: list[dict]) -> tuple[dict | None, bool]:
    """The quota's `status.used`, and whether the quota controller has caught up with our spec
    (its `status.hard` equals `spec.hard`): until it has, `used` may still read 0."""
    for obj in desired:
        if obj["kind"] == "ResourceQuota":
            live = backend.get(ObjectRef.of(obj)) or {}
            status = live.get("status") or {}
            current = status.get("hard") == (live.get("spec") or {}).get("hard")
            return status.get("used"), current and "used" in status
    return None, True


def _record(tenant: Tenant, actor: Principal, **fields) -> None:
    record(
        actor=actor, target_type="tenant", target_id=tenant.slug, tenant_slug=tenant.slug, **fields
    )


class TenantKind:
    """A tenant: its namespace, quota and guard rails (`control_plane.reconcile_driver`)."""

    model = Tenant
    target_type = "tenant"

    def load(self, pk: int) -> Tenant | None:
        return Tenant.objects.select_related("quota").filter(pk=pk).first()

    def reconcile(self, tenant: Tenant, backend: ClusterBackend) -> Outcome:
        system = system_actor(self, tenant)
        context = RenderContext.from_settings(settings)
        if tenant.state == Tenant.State.DELETING:
            return _delete(tenant, backend, system, context)
        return _apply(tenant, backend, system, context)

    def audit_target(self, tenant: Tenant) -> tuple[str, str]:
        return tenant.slug, tenant.slug


TENANTS = TenantKind()


def reconcile_tenant(tenant_id: int, *, backend: ClusterBackend) -> Outcome:
    """Level-triggered: apply what the tenant should have, prune what it should not, read back;
    or, while it is being deleted, tear it down (see `run` for failures)."""
    return run(TENANTS, tenant_id, backend=backend)


def _apply(
    tenant: Tenant, backend: ClusterBackend, system: Principal, context: RenderContext
) -> Outcome:
    generation = tenant.generation
    desired = tenant_objects(tenant, context)
    outcome = sync_objects(
        backend, desired, scopes=_scopes(tenant, context), selector={TENANT_LABEL: tenant.slug}
    )
    quota_used, quota_current = _quota_used(backend, desired)
    # A directory of manifests has no quota controller to wait for.
    quota_current = quota_current or not backend.observes_status
    conditions, _ = set_condition(tenant.conditions, "Ready", True, "Applied", "Namespace ready.")
    conditions, _ = set_condition(conditions, "Degraded", False, "Applied")
    with transaction.atomic():
        Tenant.objects.filter(pk=tenant.pk).update(
            observed_generation=generation,
            conditions=conditions,
            quota_used=quota_used,
            last_reconciled_at=timezone.now(),
            # Read the quota's usage again soon while its controller has not caught up.
            next_check_at=next_check(settled=quota_current and not outcome.wrote),
        )
        if outcome.wrote:
            _record(
                tenant,
                system,
                action="tenant.reconcile",
                changes={"applied": outcome.changed, "pruned": outcome.pruned},
            )
    return Outcome.APPLIED if outcome.wrote else Outcome.UNCHANGED


def _delete(
    tenant: Tenant, backend: ClusterBackend, system: Principal, context: RenderContext
) -> Outcome:
    """Endpoints' objects go with the namespace; the ReferenceGrant lives elsewhere and is
    removed explicitly. The rows go last, once the namespace is really gone: a namespace stays
    Terminating while finalizers (the KEDA operator's on ScaledObjects) run, and forgetting the
    tenant before then would let it be re-created into a namespace being terminated."""
    removed = delete_all(
        backend, scopes=_scopes(tenant, context), selector={TENANT_LABEL: tenant.slug}
    )
    namespace = backend.get(ObjectRef("v1", "Namespace", None, tenant.namespace))
    if namespace is not None:
        message = f"Namespace {tenant.namespace} is terminating; the tenant goes once it is gone."
        conditions, _ = set_condition(
            tenant.conditions, "Progressing", True, "NamespaceTerminating", message
        )
        Tenant.objects.filter(pk=tenant.pk).update(
            conditions=conditions, next_check_at=next_check(settled=False)
        )
        return Outcome.WAITING
    with transaction.atomic():
        # Lock order (docs/decisions/0006-lock-order.md): the tenant row before the rows that go
        # with it, the audit chain head last.
        Tenant.objects.select_for_update(of=("self",)).filter(pk=tenant.pk).first()
        endpoints = list(tenant.endpoints.values_list("name", flat=True))
        tenant.delete()
        _record(
            tenant,
            system,
            action="tenant.deleted",
            changes={"removed": removed, "endpoints": endpoints},
        )
    return Outcome.DELETED
