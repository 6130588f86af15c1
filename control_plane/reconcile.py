"""Shared machinery of the reconcilers: one worker per object at a time, apply-then-prune.

A reconcile claims its object with a conditional UPDATE on `reconcile_lease_until` and checks the
row count, so two workers (a queued change and a resync, or a redelivered message after a
worker was killed) never reconcile the same object at once. The lease expires on its own, so a
worker killed mid-reconcile blocks nobody for long.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from functools import cache

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from control_plane.cluster import ClusterBackend, get_backend

LEASE = timedelta(minutes=5)


def claim(model: type[models.Model], pk: int) -> bool:
    now = timezone.now()
    claimed = (
        model.objects.filter(pk=pk)
        .filter(Q(reconcile_lease_until__isnull=True) | Q(reconcile_lease_until__lt=now))
        .update(reconcile_lease_until=now + LEASE)
    )
    return claimed == 1


def release(model: type[models.Model], pk: int) -> None:
    model.objects.filter(pk=pk).update(reconcile_lease_until=None)


@cache
def cluster_backend() -> ClusterBackend:
    """One backend per worker process: the kubernetes backend's discovery is worth keeping."""
    return get_backend()


def next_check(*, settled: bool) -> datetime:
    seconds = settings.RESYNC_STALE_AFTER_SECONDS if settled else settings.READINESS_RECHECK_SECONDS
    return timezone.now() + timedelta(seconds=seconds)


def retry_countdown(retries: int) -> float:
    """Exponential backoff with full jitter for task retries: 1 s, 2 s, 4 s … capped at 60 s."""
    return random.uniform(0, min(60.0, 2.0**retries))
