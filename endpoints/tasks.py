from __future__ import annotations

from celery import shared_task

from control_plane.reconcile import cluster_backend, run_reconcile_task
from endpoints import reconciler


@shared_task(bind=True, name="endpoints.reconcile_endpoint", acks_late=True, max_retries=8)
def reconcile_endpoint(self, endpoint_id: int) -> str:
    return run_reconcile_task(
        self, lambda: reconciler.reconcile_endpoint(endpoint_id, backend=cluster_backend())
    )
