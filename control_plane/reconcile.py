"""Shared machinery of the reconcilers: one worker per object at a time, apply-then-prune.

A reconcile claims its object with a conditional UPDATE on `reconcile_lease_until` and checks the
row count, so two workers (a queued change and a resync, or a redelivered message after a
worker was killed) never reconcile the same object at once. The lease expires on its own, so a
worker killed mid-reconcile blocks nobody for long.
"""

from __future__ import annotations

import enum
import errno
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from django.conf import settings
from django.db import DatabaseError, models, transaction
from django.db.models import F, Q
from django.utils import timezone

from control_plane.cluster import ClusterBackend, ClusterError, get_backend
from control_plane.errors import ServiceError


def lease() -> timedelta:
    """How long a claim holds an object (RECONCILE_LEASE_SECONDS): longer than a reconcile
    takes, short enough that a killed worker's objects are taken over soon."""
    return timedelta(seconds=settings.RECONCILE_LEASE_SECONDS)


class Claim(enum.Enum):
    CLAIMED = "claimed"
    BUSY = "busy"  # another worker holds the lease
    GONE = "gone"  # the row was deleted: nothing left to reconcile


def queued_mark() -> timedelta:
    """How long a queued object is not queued again, at most: a backlog of any depth drains
    before its marks expire. Messages lost with a killed worker (prefetched, never claimed) are
    replaced sooner: once the broker's queue is empty, the resync ignores the marks (`claim_due`
    with `marks_valid=False`)."""
    return max(lease(), timedelta(seconds=settings.RESYNC_STALE_AFTER_SECONDS))


def claim(model: type[models.Model], pk: int) -> Claim:
    now = timezone.now()
    claimed = (
        model.objects.filter(pk=pk)
        .filter(Q(reconcile_lease_until__isnull=True) | Q(reconcile_lease_until__lt=now))
        .update(reconcile_lease_until=now + lease(), reconcile_queued_until=None)
    )
    if claimed == 1:
        return Claim.CLAIMED
    return Claim.BUSY if model.objects.filter(pk=pk).exists() else Claim.GONE


def claim_due(
    model: type[models.Model], *, marks_valid: bool = True, limit: int | None = None
) -> list[int]:
    """The objects the resync should queue now, each marked queued in the same transaction:
    desired state ahead of what was observed, or a check due; not leased by a worker, and not
    already queued. A backlog (a dead worker, a broker outage) therefore holds each object at
    most once, however many resync ticks run; the mark expires (`queued_mark`) in case the message
    was lost, and a worker's claim clears it."""
    now = timezone.now()
    due = (
        model.objects.filter(
            Q(observed_generation__lt=F("generation"))
            | Q(next_check_at__isnull=True)
            | Q(next_check_at__lte=now)
        )
        .filter(Q(reconcile_lease_until__isnull=True) | Q(reconcile_lease_until__lt=now))
        .order_by("next_check_at", "pk")
    )
    if marks_valid:
        due = due.filter(Q(reconcile_queued_until__isnull=True) | Q(reconcile_queued_until__lt=now))
    with transaction.atomic():
        # SKIP LOCKED: two overlapping resyncs split the due objects instead of both taking them.
        pks = list(due.select_for_update(skip_locked=True).values_list("pk", flat=True)[:limit])
        model.objects.filter(pk__in=pks).update(reconcile_queued_until=now + queued_mark())
    return pks


def release(model: type[models.Model], pk: int) -> None:
    model.objects.filter(pk=pk).update(reconcile_lease_until=None)


@cache
def cluster_backend() -> ClusterBackend:
    """One backend per worker process: the kubernetes backend's discovery is worth keeping."""
    return get_backend()


def next_check(*, settled: bool) -> datetime:
    """When to look again, with ±10 % jitter: objects settled together (after an outage, or a
    burst of changes) would otherwise all fall due in the same resync tick."""
    seconds = settings.RESYNC_STALE_AFTER_SECONDS if settled else settings.READINESS_RECHECK_SECONDS
    return timezone.now() + timedelta(seconds=seconds * random.uniform(0.9, 1.1))


def retry_countdown(retries: int) -> float:
    """Exponential backoff with full jitter for task retries: 1 s, 2 s, 4 s … capped at 60 s."""
    return random.uniform(0, min(60.0, 2.0**retries))


@dataclass(frozen=True)
class Failure:
    """Why a reconcile failed, as a condition shows it: a CamelCase reason, a message a person
    can act on, and whether trying again soon can help."""

    reason: str
    message: str
    retryable: bool


def failure_of(error: Exception) -> Failure:
    """Every exception a reconcile can meet becomes a visible failure, not only cluster errors:
    an unwritable or full manifest directory, a vanished file, a database outage, or a render
    that refuses the stored state (a GPU pool removed from settings)."""
    if isinstance(error, ClusterError):
        return Failure(error.reason, error.message, error.retryable)
    if isinstance(error, TerminalError):
        return Failure(error.reason, error.message, False)
    if isinstance(error, PermissionError):
        return Failure("PermissionDenied", f"{error.strerror}: {error.filename}", True)
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return Failure("StorageFull", f"{error.strerror}: {error.filename}", True)
    if isinstance(error, OSError):
        return Failure("StorageError", f"{error.strerror or error}: {error.filename}", True)
    if isinstance(error, DatabaseError):
        return Failure("DatabaseUnavailable", str(error).strip(), True)
    if isinstance(error, ServiceError):
        # The stored desired state cannot be rendered (refused by today's settings): retrying
        # fails the same way until someone changes the object or the settings.
        return Failure("RenderFailed", error.message, False)
    return Failure("ReconcileError", f"{type(error).__name__}: {error}", True)


# A busy object's lease holder finishes the work (and the resync catches a change it missed),
# so a duplicate message retries a few times, not for minutes.
BUSY_RETRIES = 3


def run_reconcile_task(task, reconcile: Callable[[], str]) -> str:
    """The body of a reconcile task: retry with backoff what may pass (the failure is already
    on the object's conditions), end quietly for an object that is gone or busy."""
    try:
        result = reconcile()
    except Exception as error:
        raise task.retry(exc=error, countdown=retry_countdown(task.request.retries)) from error
    if result == "waiting" or (result == "busy" and task.request.retries < BUSY_RETRIES):
        raise task.retry(countdown=retry_countdown(task.request.retries))
    return result


class TerminalError(Exception):
    """A failure retrying cannot fix until someone changes the object or the settings
    (controller-runtime's `reconcile.TerminalError`): recorded, not retried."""

    def __init__(self, message: str, *, reason: str = "Refused") -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
