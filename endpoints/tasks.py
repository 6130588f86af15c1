from __future__ import annotations

from celery import shared_task

from control_plane.reconcile import claim_due, cluster_backend, run_reconcile_task
from control_plane.scheduling import queued_message_count, send_reconcile
from endpoints import reconciler
from endpoints.models import Rollout
from endpoints.rollouts import reconciler as rollout_reconciler
from endpoints.rollouts.services import ANALYSIS_QUEUE, RECONCILE_ROLLOUT


@shared_task(bind=True, name="endpoints.reconcile_endpoint", acks_late=True, max_retries=8)
def reconcile_endpoint(self, endpoint_id: int) -> str:
    return run_reconcile_task(
        self, lambda: reconciler.reconcile_endpoint(endpoint_id, backend=cluster_backend())
    )


@shared_task(bind=True, name=RECONCILE_ROLLOUT, acks_late=True, max_retries=8)
def reconcile_rollout(self, rollout_id: int) -> str:
    return run_reconcile_task(
        self,
        lambda: rollout_reconciler.reconcile_rollout(rollout_id, backend=cluster_backend()),
    )


@shared_task(name="endpoints.analyse_rollouts", acks_late=True)
def analyse_rollouts() -> int:
    """The analysis beat: queue every rollout whose `next_check_at` is due (or whose desired
    state moved), once, on the analysis queue."""
    marks_valid = queued_message_count(ANALYSIS_QUEUE) != 0
    due = claim_due(Rollout, marks_valid=marks_valid)
    for pk in due:
        send_reconcile(RECONCILE_ROLLOUT, pk, queue=ANALYSIS_QUEUE)
    return len(due)
