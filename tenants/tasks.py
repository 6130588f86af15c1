"""Celery tasks of tenants (the periodic resync is in control_plane/resync.py)."""

from __future__ import annotations

from celery import shared_task

from control_plane.reconcile import cluster_backend, run_reconcile_task
from tenants import reconciler


@shared_task(bind=True, name="tenants.reconcile_tenant", acks_late=True, max_retries=8)
def reconcile_tenant(self, tenant_id: int) -> str:
    return run_reconcile_task(
        self, lambda: reconciler.reconcile_tenant(tenant_id, backend=cluster_backend())
    )
