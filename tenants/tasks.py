"""Celery tasks of tenants, and the periodic resync and orphan pruning of every object."""

from __future__ import annotations

from celery import shared_task
from django.db.models import F, Q
from django.utils import timezone

from control_plane.reconcile import cluster_backend, run_reconcile_task
from control_plane.scheduling import send_reconcile
from tenants import reconciler
from tenants.models import Tenant


@shared_task(bind=True, name="tenants.reconcile_tenant", acks_late=True, max_retries=8)
def reconcile_tenant(self, tenant_id: int) -> str:
    return run_reconcile_task(
        self, lambda: reconciler.reconcile_tenant(tenant_id, backend=cluster_backend())
    )


def _due(model) -> list[int]:
    now = timezone.now()
    due = model.objects.filter(
        Q(observed_generation__lt=F("generation"))
        | Q(next_check_at__isnull=True)
        | Q(next_check_at__lte=now)
    ).filter(Q(reconcile_lease_until__isnull=True) | Q(reconcile_lease_until__lt=now))
    return list(due.values_list("pk", flat=True))


@shared_task(name="control_plane.resync", acks_late=True)
def resync() -> dict[str, int]:
    """Reconcile every object whose desired state is ahead of what was observed, or whose next
    check is due: lost messages and killed workers heal here."""
    from endpoints.models import Endpoint

    tenants, endpoints = _due(Tenant), _due(Endpoint)
    for tenant_id in tenants:
        send_reconcile("tenants.reconcile_tenant", tenant_id)
    for endpoint_id in endpoints:
        send_reconcile("endpoints.reconcile_endpoint", endpoint_id)
    return {"tenants": len(tenants), "endpoints": len(endpoints)}


@shared_task(name="control_plane.prune_orphans", acks_late=True)
def prune_orphans() -> list[str]:
    from control_plane.orphans import prune_orphans as prune

    return prune(cluster_backend())
