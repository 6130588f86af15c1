"""The periodic checkpoint of every audit chain (AUDIT_CHECKPOINT_INTERVAL_SECONDS)."""

from __future__ import annotations

from celery import shared_task

from control_plane.audit.checkpoint_service import checkpoint_now


@shared_task(name="audit.checkpoint", acks_late=True)
def checkpoint() -> str:
    """Idempotent enough to redeliver: a second run writes one more checkpoint of the same
    state, which verifies like the first."""
    return str(checkpoint_now())
