"""Shared machinery of the reconcilers: one worker per object at a time, apply-then-prune.

A reconcile claims its object with a conditional UPDATE on `reconcile_lease_until` and checks the
row count, so two workers (a queued change and a resync, or a redelivered message after a
worker was killed) never reconcile the same object at once. The lease is short
(RECONCILE_LEASE_SECONDS) and a heartbeat renews it while the reconcile runs, so a reconcile of
any length keeps its object and a worker killed mid-reconcile blocks it for one short lease.

The expiry the holder wrote is its token: renewing and releasing are compare-and-set on it, so
a holder that lost its lease (paused past the expiry, then claimed by another worker) can
neither extend nor release the new holder's lease.
"""

from __future__ import annotations

import enum
import errno
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cache

from django.conf import settings
from django.db import DatabaseError, connection, models, transaction
from django.db.models import F, Q
from django.utils import timezone

from control_plane.cluster import ClusterBackend, ClusterError, get_backend
from control_plane.errors import ServiceError

logger = logging.getLogger(__name__)


def lease() -> timedelta:
    """How long a claim holds an object unless its heartbeat renews it (RECONCILE_LEASE_SECONDS):
    how long a killed worker's objects wait before another worker takes them over."""
    return timedelta(seconds=settings.RECONCILE_LEASE_SECONDS)


class Claim(enum.Enum):
    BUSY = "busy"  # another worker holds the lease
    GONE = "gone"  # the row was deleted: nothing left to reconcile


@dataclass(frozen=True)
class Lease:
    """A claim held on one row until `until`, which is also the holder's token."""

    model: type[models.Model]
    pk: int
    until: datetime


def queued_mark() -> timedelta:
    """How long a queued object is not queued again, at most: a backlog of any depth drains
    before its marks expire. Messages lost with a killed worker (prefetched, never claimed) are
    replaced sooner: once the broker's queue is empty, the resync ignores the marks (`claim_due`
    with `marks_valid=False`)."""
    return max(lease(), timedelta(seconds=settings.RESYNC_STALE_AFTER_SECONDS))


def claim(model: type[models.Model], pk: int) -> Lease | Claim:
    now = timezone.now()
    until = now + lease()
    claimed = (
        model.objects.filter(pk=pk)
        .filter(Q(reconcile_lease_until__isnull=True) | Q(reconcile_lease_until__lt=now))
        .update(reconcile_lease_until=until, reconcile_queued_until=None)
    )
    if claimed == 1:
        return Lease(model, pk, until)
    return Claim.BUSY if model.objects.filter(pk=pk).exists() else Claim.GONE


def renew(held: Lease) -> Lease | None:
    """Extend a lease still held: the renewed lease, the same one when the row is locked by a
    transaction just now (try again at the next beat), or None when it is no longer ours
    (released, or expired and claimed by another worker)."""
    until = timezone.now() + lease()
    rows = held.model.objects.filter(pk=held.pk, reconcile_lease_until=held.until)
    with transaction.atomic():
        # SKIP LOCKED: never wait on the reconcile's own status write (or a test's transaction)
        # holding the row; the next beat comes well before the lease runs out.
        if rows.select_for_update(skip_locked=True).values_list("pk", flat=True):
            rows.update(reconcile_lease_until=until)
            return replace(held, until=until)
    return held if rows.exists() else None


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


def release(held: Lease) -> None:
    held.model.objects.filter(pk=held.pk, reconcile_lease_until=held.until).update(
        reconcile_lease_until=None
    )


class Heartbeat:
    """Renews a lease every third of its length while a reconcile runs, from a daemon thread.

    The lease can then be short, so a killed worker's objects are taken over within one lease,
    while a reconcile that takes longer (a slow API server, backend retries) keeps its object
    instead of being claimed a second time. A reconcile shorter than one beat touches nothing.
    Celery's hard time limit (CELERY_TASK_TIME_LIMIT) kills a hung worker process, and its
    heartbeat with it."""

    def __init__(self, held: Lease, *, interval: float | None = None) -> None:
        self.lease = held
        self.lost = False
        self._interval = interval if interval is not None else lease().total_seconds() / 3
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, name=f"lease-{held.model.__name__}-{held.pk}", daemon=True
        )
        self._thread.start()

    def _beat(self) -> None:
        try:
            while not self._stopped.wait(self._interval):
                try:
                    renewed = renew(self.lease)
                except Exception as error:
                    # A database outage (the reconcile meets it too, and fails visibly) or a
                    # dropped connection: keep trying until the reconcile ends.
                    logger.warning("could not renew the lease of %s: %s", self.lease, error)
                    connection.close()
                    continue
                if renewed is None:
                    self.lost = True
                    logger.warning("lost the lease of %s", self.lease)
                    return
                self.lease = renewed
        finally:
            # Django connections are per thread: close the one this thread may have opened.
            connection.close()

    def stop(self) -> Lease:
        """Stop renewing; the lease as last renewed, to release."""
        self._stopped.set()
        self._thread.join()
        return self.lease


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
