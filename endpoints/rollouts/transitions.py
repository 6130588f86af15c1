"""The moves of a rollout, shared by the people who start and steer it (services) and by the
analysis that drives it (reconciler). Each runs inside the caller's transaction, with the
endpoint row and then the rollout row locked (docs/decisions/0006-lock-order.md), writes the
endpoint's routing (the endpoint reconciler applies it) and records one audit event that names
the check which caused it, if any: a promotion carries its evidence.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from control_plane.audit.services import record
from control_plane.auth.principal import Principal
from endpoints.models import Endpoint, Rollout, RolloutCheck
from endpoints.rollouts.spec import RolloutSpec
from endpoints.services import bump_endpoint_generation

# Finished and retired: nothing left to look at, but the row stays for the record.
DONE_CHECK = timedelta(days=3650)


def audit_target(rollout: Rollout) -> str:
    return f"{rollout.endpoint.name}/rollouts/{rollout.pk}"


def _record(
    rollout: Rollout,
    action: str,
    *,
    actor: Principal,
    before: dict[str, Any],
    reason: str,
    check: RolloutCheck | None,
) -> None:
    after = {"state": rollout.state, "step": rollout.step, "weight": rollout.weight}
    changes: dict[str, Any] = {
        key: {"before": before[key], "after": after[key]}
        for key in after
        if before.get(key) != after[key]
    }
    if check is not None:
        changes["check"] = {
            "number": check.number,
            "verdict": check.verdict,
            "window": [check.window_start.isoformat(), check.window_end.isoformat()],
            "reason": check.reason,
        }
    record(
        actor=actor,
        action=f"rollout.{action}",
        target_type="rollout",
        target_id=audit_target(rollout),
        tenant_slug=rollout.endpoint.tenant.slug,
        changes=changes,
        reason=reason,
    )


def _snapshot(rollout: Rollout) -> dict[str, Any]:
    return {"state": rollout.state, "step": rollout.step, "weight": rollout.weight}


def _save(rollout: Rollout, *fields: str) -> None:
    rollout.save(update_fields=[*fields, "updated_at"])


def set_weight(endpoint: Endpoint, weight: int) -> None:
    Endpoint.objects.filter(pk=endpoint.pk).update(canary_weight=weight)
    endpoint.canary_weight = weight
    bump_endpoint_generation(endpoint)


def start_traffic(
    rollout: Rollout, endpoint: Endpoint, *, actor: Principal, reason: str = ""
) -> None:
    """The canary is ready: its first step's weight goes live, and the first window opens after
    the warm-up."""
    spec = RolloutSpec.from_json(rollout.spec)
    before = _snapshot(rollout)
    now = timezone.now()
    rollout.weight = spec.steps[0]
    rollout.canary_ready_at = now
    rollout.window_start = now + timedelta(seconds=spec.warmup_s)
    rollout.next_check_at = rollout.window_start + timedelta(seconds=spec.analysis_interval_s)
    rollout.message = reason or (
        f"Canary ready; {rollout.weight} % of traffic, warming up for {spec.warmup_s} s."
    )
    _save(rollout, "weight", "canary_ready_at", "window_start", "next_check_at", "message")
    set_weight(endpoint, rollout.weight)
    _record(rollout, "traffic", actor=actor, before=before, reason=rollout.message, check=None)


def begin_analysis(rollout: Rollout, *, actor: Principal) -> None:
    before = _snapshot(rollout)
    rollout.state = Rollout.State.PROGRESSING
    rollout.message = f"Warm-up over; analysing step {rollout.step + 1} at {rollout.weight} %."
    _save(rollout, "state", "message")
    _record(rollout, "progress", actor=actor, before=before, reason=rollout.message, check=None)


def advance(rollout: Rollout, endpoint: Endpoint, *, actor: Principal, check: RolloutCheck) -> None:
    """The step baked long enough: the next weight, or the promotion after the last step."""
    spec = RolloutSpec.from_json(rollout.spec)
    if rollout.step + 1 >= len(spec.analysed_steps):
        promote(
            rollout,
            endpoint,
            actor=actor,
            reason=f"Every step passed its analysis; promoted after check {check.number}.",
            check=check,
        )
        return
    before = _snapshot(rollout)
    rollout.step += 1
    rollout.weight = spec.steps[rollout.step]
    rollout.step_passed_seconds = 0.0
    rollout.message = f"Step {rollout.step + 1}: {rollout.weight} % of traffic to the canary."
    _save(rollout, "step", "weight", "step_passed_seconds", "message")
    set_weight(endpoint, rollout.weight)
    _record(rollout, "step", actor=actor, before=before, reason=rollout.message, check=check)


def _finish(rollout: Rollout, endpoint: Endpoint, state: str, message: str) -> None:
    now = timezone.now()
    rollout.state = state
    rollout.message = message
    rollout.finished_at = now
    rollout.retire_generation = endpoint.generation
    rollout.retire_after = now + timedelta(seconds=settings.ROLLOUT_DRAIN_SECONDS)
    rollout.next_check_at = rollout.retire_after
    _save(
        rollout,
        "state",
        "weight",
        "message",
        "finished_at",
        "retire_generation",
        "retire_after",
        "next_check_at",
    )


def promote(
    rollout: Rollout,
    endpoint: Endpoint,
    *,
    actor: Principal,
    reason: str,
    check: RolloutCheck | None = None,
) -> None:
    """The new revision becomes the stable one and takes all traffic (the InterceptorRoute of a
    scale-to-zero endpoint follows the stable revision); the old one drains, then goes."""
    before = _snapshot(rollout)
    Endpoint.objects.filter(pk=endpoint.pk).update(
        stable_revision=rollout.to_revision,
        canary_revision=None,
        retiring_revision=rollout.from_revision,
        canary_weight=0,
    )
    bump_endpoint_generation(endpoint)
    rollout.weight = 100
    _finish(rollout, endpoint, Rollout.State.PROMOTED, reason)
    _record(rollout, "promote", actor=actor, before=before, reason=reason, check=check)


def roll_back(
    rollout: Rollout,
    endpoint: Endpoint,
    *,
    actor: Principal,
    reason: str,
    check: RolloutCheck | None = None,
    state: str = Rollout.State.ROLLED_BACK,
) -> None:
    """All traffic back to the stable revision; the canary drains, then goes."""
    before = _snapshot(rollout)
    Endpoint.objects.filter(pk=endpoint.pk).update(
        canary_revision=None, retiring_revision=rollout.to_revision, canary_weight=0
    )
    bump_endpoint_generation(endpoint)
    rollout.weight = 0
    _finish(rollout, endpoint, state, reason)
    action = "abort" if state == Rollout.State.ABORTED else "rollback"
    _record(rollout, action, actor=actor, before=before, reason=reason, check=check)


def pause(
    rollout: Rollout, *, actor: Principal, reason: str, check: RolloutCheck | None = None
) -> None:
    """Hold the current weight until a person resumes, promotes or aborts."""
    before = _snapshot(rollout)
    rollout.state = Rollout.State.PAUSED
    rollout.message = reason
    rollout.next_check_at = timezone.now() + DONE_CHECK
    _save(rollout, "state", "message", "next_check_at")
    _record(rollout, "pause", actor=actor, before=before, reason=reason, check=check)


def resume(rollout: Rollout, *, actor: Principal, reason: str) -> None:
    """Analysis starts again with a fresh window; evidence gathered so far still counts."""
    spec = RolloutSpec.from_json(rollout.spec)
    before = _snapshot(rollout)
    now = timezone.now()
    rollout.state = (
        Rollout.State.PENDING if rollout.canary_ready_at is None else Rollout.State.PROGRESSING
    )
    rollout.inconclusive_streak = 0
    rollout.window_start = now
    rollout.next_check_at = now + timedelta(seconds=spec.analysis_interval_s)
    rollout.message = reason
    _save(rollout, "state", "inconclusive_streak", "window_start", "next_check_at", "message")
    _record(rollout, "resume", actor=actor, before=before, reason=reason, check=None)


def retire(rollout: Rollout, endpoint: Endpoint, *, actor: Principal) -> None:
    """The retired revision drained: its objects go with the endpoint's next reconcile."""
    retired = endpoint.retiring_revision
    Endpoint.objects.filter(pk=endpoint.pk).update(retiring_revision=None)
    bump_endpoint_generation(endpoint)
    rollout.retired_at = timezone.now()
    rollout.next_check_at = rollout.retired_at + DONE_CHECK
    _save(rollout, "retired_at", "next_check_at")
    record(
        actor=actor,
        action="rollout.retire",
        target_type="rollout",
        target_id=audit_target(rollout),
        tenant_slug=endpoint.tenant.slug,
        changes={"retired_revision": retired.kubernetes_name if retired else None},
    )
