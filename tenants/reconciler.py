"""Tenant → namespace, quota and guard rails in the cluster; deletion tears them down."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from control_plane.audit.services import record
from control_plane.auth.principal import Principal
from control_plane.cluster import ClusterBackend, ClusterError, ObjectRef
from control_plane.cluster.sync import delete_all, sync_objects
from control_plane.conditions import set_condition
from control_plane.reconcile import claim, next_check, release
from tenants.manifests import TENANT_KINDS, TENANT_LABEL, tenant_objects
from tenants.models import Tenant

logger = logging.getLogger(__name__)


def _scopes(tenant: Tenant) -> list[tuple[str, str, str | None]]:
    scopes = []
    for api_version, kind in TENANT_KINDS:
        if kind == "Namespace":
            scopes.append((api_version, kind, None))
        elif kind == "ReferenceGrant":
            scopes.append((api_version, kind, settings.KEDA_HTTP_NAMESPACE))
        else:
            scopes.append((api_version, kind, tenant.namespace))
    return scopes


def _quota_used(backend: ClusterBackend, desired: list[dict]) -> dict | None:
    for obj in desired:
        if obj["kind"] == "ResourceQuota":
            live = backend.get(ObjectRef.of(obj))
            return (live or {}).get("status", {}).get("used")
    return None


def _record(tenant: Tenant, actor: Principal, **fields) -> None:
    record(
        actor=actor, target_type="tenant", target_id=tenant.slug, tenant_slug=tenant.slug, **fields
    )


def reconcile_tenant(tenant_id: int, *, backend: ClusterBackend) -> str:
    """Level-triggered: apply what the tenant should have, prune what it should not, read back.

    Returns what happened ("busy", "gone", "applied", "unchanged", "deleted", "failed"); raises
    a retryable ClusterError after recording it, so the task can retry with backoff.
    """
    if not claim(Tenant, tenant_id):
        return "busy"
    try:
        tenant = Tenant.objects.select_related("quota").filter(pk=tenant_id).first()
        if tenant is None:
            return "gone"
        if tenant.state == Tenant.State.DELETING:
            return _delete(tenant, backend)
        return _apply(tenant, backend)
    finally:
        release(Tenant, tenant_id)


def _apply(tenant: Tenant, backend: ClusterBackend) -> str:
    system = Principal.system(request_id=f"reconcile-tenant-{tenant.pk}-g{tenant.generation}")
    generation = tenant.generation
    desired = tenant_objects(tenant)
    try:
        outcome = sync_objects(
            backend, desired, scopes=_scopes(tenant), selector={TENANT_LABEL: tenant.slug}
        )
        quota_used = _quota_used(backend, desired)
    except ClusterError as error:
        _write_failure(tenant, generation, error, system)
        if error.retryable:
            raise
        return "failed"
    conditions, _ = set_condition(tenant.conditions, "Ready", True, "Applied", "Namespace ready.")
    conditions, _ = set_condition(conditions, "Degraded", False, "Applied")
    with transaction.atomic():
        Tenant.objects.filter(pk=tenant.pk).update(
            observed_generation=generation,
            conditions=conditions,
            quota_used=quota_used,
            last_reconciled_at=timezone.now(),
            next_check_at=next_check(settled=True),
        )
        if outcome.wrote:
            _record(
                tenant,
                system,
                action="tenant.reconcile",
                changes={"applied": outcome.changed, "pruned": outcome.pruned},
            )
    return "applied" if outcome.wrote else "unchanged"


def _write_failure(tenant: Tenant, generation: int, error: ClusterError, system: Principal) -> None:
    conditions, _ = set_condition(tenant.conditions, "Ready", False, error.reason, error.message)
    conditions, transitioned = set_condition(
        conditions, "Degraded", True, error.reason, error.message
    )
    fields = {"conditions": conditions, "next_check_at": next_check(settled=False)}
    if not error.retryable:
        # Observed and refused: retrying at once would fail the same way. The resync tries
        # again once the object is stale, or at once when someone changes it.
        fields |= {"observed_generation": generation, "last_reconciled_at": timezone.now()}
    with transaction.atomic():
        Tenant.objects.filter(pk=tenant.pk).update(**fields)
        if transitioned:
            _record(
                tenant,
                system,
                action="tenant.reconcile",
                outcome="failure",
                reason=error.message,
            )


def _delete(tenant: Tenant, backend: ClusterBackend) -> str:
    """Endpoints' objects go with the namespace; the ReferenceGrant lives elsewhere and is
    removed explicitly. The rows go last, so a failure leaves everything to retry."""
    system = Principal.system(request_id=f"delete-tenant-{tenant.pk}")
    try:
        removed = delete_all(backend, scopes=_scopes(tenant), selector={TENANT_LABEL: tenant.slug})
    except ClusterError as error:
        _write_failure(tenant, tenant.generation, error, system)
        if error.retryable:
            raise
        return "failed"
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
    return "deleted"
