"""Queueing reconciles after the transaction that changed the desired state commits.

A lost message is harmless: the periodic resync reconciles every object whose
`observed_generation` lags, so a broker outage only delays the change.
"""

from __future__ import annotations

import logging

from django.db import models, transaction
from django.utils import timezone

from control_plane.reconcile import queued_mark

logger = logging.getLogger(__name__)

_PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}


def send_reconcile(task_name: str, object_id: int, *, queue: str | None = None) -> None:
    from control_plane.celery import app

    try:
        app.send_task(
            task_name, args=[object_id], queue=queue, retry=True, retry_policy=_PUBLISH_RETRY
        )
    except Exception as error:
        logger.warning(
            "could not queue %s(%s), the resync will pick it up: %s", task_name, object_id, error
        )


def queued_message_count(queue: str | None = None) -> int | None:
    """Messages waiting in a queue (the default one unless named), or None when the broker
    cannot say. Zero means every queued mark is stale: its message was consumed or lost with a
    killed worker."""
    from control_plane.celery import app

    try:
        with app.connection_for_read() as connection:
            declared = connection.default_channel.queue_declare(
                queue=queue or app.conf.task_default_queue, passive=True
            )
            return int(declared.message_count)
    except Exception as error:
        logger.warning("could not read the queue length, keeping queued marks: %s", error)
        return None


def reconcile_on_commit(
    task_name: str,
    object_id: int,
    *,
    model: type[models.Model] | None = None,
    queue: str | None = None,
) -> None:
    """Queue a reconcile once the caller's transaction commits. With `model`, the row is marked
    queued in that same transaction, so the resync does not queue it a second time while this
    message waits (control_plane.reconcile.claim_due)."""
    if model is not None:
        model.objects.filter(pk=object_id).update(
            reconcile_queued_until=timezone.now() + queued_mark()
        )
    transaction.on_commit(lambda: send_reconcile(task_name, object_id, queue=queue))
