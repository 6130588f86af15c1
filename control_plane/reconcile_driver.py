"""The one reconcile driver: what every kind of reconciled object shares, written once.

`run(kind, pk, backend)` claims the object, loads it, lets the kind bring the cluster in line
(apply, prune, read back, status, or tear down), and turns any exception into the object's
`Degraded` condition with one audit event when it starts failing, then releases the claim.
A kind (tenants, endpoints, rollouts) supplies only what differs: how to load its row, how to
reconcile it, and how its audit events name it. As in controller-runtime, a kind signals a
failure retrying cannot fix with `TerminalError`; the next attempt is level-triggered: the row's
`next_check_at`, which the resync reads, not a delayed message.
"""

from __future__ import annotations

import enum
import time
from typing import Any, Protocol

from django.db import models, transaction
from django.utils import timezone
from prometheus_client import Histogram

from control_plane.audit.services import record
from control_plane.auth.principal import Principal
from control_plane.cluster import ClusterBackend
from control_plane.conditions import set_condition
from control_plane.reconcile import (
    Failure,
    Heartbeat,
    Lease,
    claim,
    failure_of,
    next_check,
    queued_mark,
    release,
)

# Served at /metrics with the project's other metrics (control_plane/metrics.py); declared here
# so the kernel does not import the project shell, which imports the apps.
RECONCILE_DURATION = Histogram(
    "control_plane_reconcile_duration_seconds",
    "Time of one reconcile, by kind (tenant, endpoint, rollout) and outcome (the driver's "
    "Outcome, or `error` when it raised to be retried).",
    ["kind", "outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)


def observe_reconcile(kind: str, outcome: str, seconds: float) -> None:
    RECONCILE_DURATION.labels(kind=kind, outcome=outcome).observe(seconds)


class Outcome(enum.StrEnum):
    APPLIED = "applied"  # the cluster was written
    UNCHANGED = "unchanged"  # nothing to write, status as it was
    CHANGED_STATUS = "changed-status"  # nothing to write, status moved (e.g. became ready)
    WAITING = "waiting"  # depends on something not there yet (the tenant's namespace)
    DELETED = "deleted"  # torn down, row gone
    FAILED = "failed"  # recorded on the object; retrying now would fail the same way
    BUSY = "busy"  # another worker holds the object
    GONE = "gone"  # no such row (deleted meanwhile)


class ReconcileKind(Protocol):
    model: type[models.Model]
    # How the kind's audit events name it: "tenant" → action "tenant.reconcile".
    target_type: str

    def load(self, pk: int) -> Any | None: ...

    def reconcile(self, obj: Any, backend: ClusterBackend) -> Outcome: ...

    def audit_target(self, obj: Any) -> tuple[str, str]:
        """(target id, tenant slug) of the object's audit events."""
        ...


def system_actor(kind: ReconcileKind, obj: Any) -> Principal:
    return Principal.system(request_id=f"reconcile-{kind.target_type}-{obj.pk}-g{obj.generation}")


def run(kind: ReconcileKind, pk: int, *, backend: ClusterBackend) -> Outcome:
    """Reconcile one object. Any exception is recorded on it first, then raised again when
    retrying soon can help (the task retries with backoff); otherwise FAILED is returned."""
    started, outcome = time.monotonic(), "error"
    try:
        outcome = _run(kind, pk, backend=backend)
        return outcome
    finally:
        observe_reconcile(kind.target_type, str(outcome), time.monotonic() - started)


def _run(kind: ReconcileKind, pk: int, *, backend: ClusterBackend) -> Outcome:
    claimed = claim(kind.model, pk)
    if not isinstance(claimed, Lease):
        return Outcome(claimed.value)
    heartbeat = Heartbeat(claimed)
    try:
        obj = kind.load(pk)
        if obj is None:
            return Outcome.GONE
        try:
            return kind.reconcile(obj, backend)
        except Exception as error:
            failure = failure_of(error)
            write_failure(kind, obj, failure)
            if failure.retryable:
                raise
            return Outcome.FAILED
    finally:
        release(heartbeat.stop())


def write_failure(kind: ReconcileKind, obj: Any, failure: Failure) -> None:
    """Ready=False and Degraded=True with the failure's reason; one audit event when the object
    starts failing (or fails differently), not one per retry."""
    conditions, _ = set_condition(obj.conditions, "Ready", False, failure.reason, failure.message)
    conditions, transitioned = set_condition(
        conditions, "Degraded", True, failure.reason, failure.message
    )
    fields: dict[str, Any] = {"conditions": conditions, "next_check_at": next_check(settled=False)}
    if failure.retryable:
        # The task retries with backoff: that retry is the object's queued message.
        fields["reconcile_queued_until"] = timezone.now() + queued_mark()
    else:
        # Observed and refused: retrying at once fails the same way. The resync tries again
        # once the object is stale, or at once when someone changes it.
        fields |= {"observed_generation": obj.generation, "last_reconciled_at": timezone.now()}
    with transaction.atomic():
        kind.model.objects.filter(pk=obj.pk).update(**fields)
        if transitioned:
            target_id, tenant_slug = kind.audit_target(obj)
            record(
                actor=system_actor(kind, obj),
                action=f"{kind.target_type}.reconcile",
                target_type=kind.target_type,
                target_id=target_id,
                tenant_slug=tenant_slug,
                outcome="failure",
                reason=failure.message,
            )
    obj.conditions = conditions
