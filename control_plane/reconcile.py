"""Shared machinery of the reconcilers: one worker per object at a time, apply-then-prune.

A reconcile claims its object with a conditional UPDATE on `reconcile_lease_until` and checks the
row count, so two workers (a queued change and a resync, or a redelivered message after a
worker was killed) never reconcile the same object at once. The lease expires on its own, so a
worker killed mid-reconcile blocks nobody for long.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from control_plane.cluster import (
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    ClusterBackend,
    ObjectRef,
    get_backend,
)

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


@dataclass
class ApplyOutcome:
    changed: list[str] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)

    @property
    def wrote(self) -> bool:
        return bool(self.changed or self.pruned)


def apply_and_prune(
    backend: ClusterBackend,
    desired: Sequence[dict],
    *,
    scopes: Iterable[tuple[str, str, str | None]],
    selector: dict[str, str],
) -> ApplyOutcome:
    """Apply `desired`, then delete every object in `scopes` (api_version, kind, namespace)
    that carries our labels and `selector` but is no longer desired."""
    outcome = ApplyOutcome()
    for result in backend.apply(desired):
        if result.action != "unchanged":
            outcome.changed.append(f"{result.action} {result.ref}")
    wanted = {ObjectRef.of(obj) for obj in desired}
    full_selector = {MANAGED_BY_LABEL: MANAGED_BY_VALUE, **selector}
    for api_version, kind, namespace in scopes:
        for live in backend.list(api_version, kind, namespace, full_selector):
            ref = ObjectRef.of(live)
            if ref not in wanted and backend.delete(ref):
                outcome.pruned.append(f"deleted {ref}")
    return outcome


def delete_all(
    backend: ClusterBackend,
    *,
    scopes: Iterable[tuple[str, str, str | None]],
    selector: dict[str, str],
) -> list[str]:
    return apply_and_prune(backend, [], scopes=scopes, selector=selector).pruned


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
