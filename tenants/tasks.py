"""Celery tasks of tenants, and the periodic resync and orphan pruning of every object."""

from __future__ import annotations

from celery import shared_task

from control_plane.reconcile import claim_due, cluster_backend, run_reconcile_task
from control_plane.scheduling import queued_message_count, send_reconcile
from tenants import reconciler
from tenants.models import Tenant


@shared_task(bind=True, name="tenants.reconcile_tenant", acks_late=True, max_retries=8)
def reconcile_tenant(self, tenant_id: int) -> str:
    return run_reconcile_task(
        self, lambda: reconciler.reconcile_tenant(tenant_id, backend=cluster_backend())
    )


@shared_task(name="control_plane.resync", acks_late=True)
def resync() -> dict[str, int]:
    """Queue a reconcile of every object whose desired state is ahead of what was observed, or
    whose next check is due, unless one is already queued: lost messages and killed workers
    heal here, and a backlog never holds an object twice."""
    from endpoints.models import Endpoint

    # An empty queue means no queued message can still arrive: marks left are from messages
    # lost with a killed worker, and their objects are queued again now.
    marks_valid = queued_message_count() != 0
    tenants = claim_due(Tenant, marks_valid=marks_valid)
    endpoints = claim_due(Endpoint, marks_valid=marks_valid)
    for tenant_id in tenants:
        send_reconcile("tenants.reconcile_tenant", tenant_id)
    for endpoint_id in endpoints:
        send_reconcile("endpoints.reconcile_endpoint", endpoint_id)
    return {"tenants": len(tenants), "endpoints": len(endpoints)}


@shared_task(name="control_plane.prune_orphans", acks_late=True)
def prune_orphans() -> list[str]:
    from control_plane.orphans import prune_orphans as prune

    return prune(cluster_backend())
