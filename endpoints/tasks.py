from __future__ import annotations

from celery import shared_task

from control_plane.cluster import ClusterError
from control_plane.reconcile import cluster_backend, retry_countdown
from endpoints import reconciler


@shared_task(bind=True, name="endpoints.reconcile_endpoint", acks_late=True, max_retries=8)
def reconcile_endpoint(self, endpoint_id: int) -> str:
    try:
        result = reconciler.reconcile_endpoint(endpoint_id, backend=cluster_backend())
    except ClusterError as error:
        raise self.retry(exc=error, countdown=retry_countdown(self.request.retries))
    if result in ("busy", "waiting"):
        raise self.retry(countdown=retry_countdown(self.request.retries))
    return result
