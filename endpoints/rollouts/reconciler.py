"""Rollout → waits for the canary, runs each due analysis, moves traffic, retires what is done.

A third kind of the one reconcile driver (`control_plane.reconcile_driver`): the driver claims
the row under the lease, so a worker killed mid-check leaves nothing half-done (the check and its
transition commit together, or not at all) and the next tick continues. Nothing is timed in
memory: `next_check_at` in the database says when the rollout needs looking at, and the analysis
beat (`endpoints.tasks.analyse_rollouts`) claims the rollouts that are due.

What a rollout reads from the cluster is the canary's readiness; what it writes is the
endpoint's routing (weights, which revision is stable), which the endpoint reconciler applies.
Prometheus is read only through `scaling.analysis.observe`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from control_plane.cluster import ClusterBackend, ObjectRef
from control_plane.conditions import set_condition
from control_plane.reconcile import next_check
from control_plane.reconcile_driver import Outcome, run, system_actor
from endpoints.models import Endpoint, Revision, Rollout, RolloutCheck
from endpoints.readiness import readiness
from endpoints.reconciler import pods_not_ready
from endpoints.rollouts import transitions
from endpoints.rollouts.spec import DIRECT, RolloutSpec
from scaling import promql
from scaling.analysis.gate import Result, Side, Verdict, evaluate
from scaling.analysis.observe import observe
from scaling.analysis.sequential import Evidence
from scaling.telemetry import TelemetryUnavailable


class RolloutKind:
    model = Rollout
    target_type = "rollout"

    def load(self, pk: int) -> Rollout | None:
        return (
            Rollout.objects.select_related(
                "endpoint__tenant",
                "endpoint__scaling_policy",
                "from_revision__model_version",
                "from_revision__endpoint__tenant",
                "to_revision__model_version",
                "to_revision__endpoint__tenant",
            )
            .filter(pk=pk)
            .first()
        )

    def reconcile(self, rollout: Rollout, backend: ClusterBackend) -> Outcome:
        if rollout.endpoint.state == Endpoint.State.DELETING:
            return _end_with_endpoint(rollout)
        if rollout.state == Rollout.State.PENDING:
            return _await_canary(rollout, backend)
        if rollout.state == Rollout.State.PROGRESSING:
            return _analyse(rollout)
        if not rollout.is_active and rollout.retired_at is None:
            return _retire(rollout)
        return _observed(rollout, rollout.next_check_at)

    def audit_target(self, rollout: Rollout) -> tuple[str, str]:
        return transitions.audit_target(rollout), rollout.endpoint.tenant.slug


ROLLOUTS = RolloutKind()


def reconcile_rollout(rollout_id: int, *, backend: ClusterBackend) -> Outcome:
    return run(ROLLOUTS, rollout_id, backend=backend)


def _actor(rollout: Rollout):
    return system_actor(ROLLOUTS, rollout)


def _observed(
    rollout: Rollout, next_check_at: datetime | None, *, changed: bool = False
) -> Outcome:
    """The reconcile's bookkeeping: observed, healthy, and when to look again."""
    conditions, _ = set_condition(rollout.conditions, "Degraded", False, "Reconciled", "")
    conditions, transitioned = set_condition(
        conditions,
        "Progressing",
        rollout.is_active,
        rollout.state.replace("_", " ").title().replace(" ", ""),
        rollout.message,
    )
    Rollout.objects.filter(pk=rollout.pk).update(
        observed_generation=rollout.generation,
        last_reconciled_at=timezone.now(),
        next_check_at=next_check_at,
        conditions=conditions,
    )
    rollout.conditions = conditions
    return Outcome.CHANGED_STATUS if changed or transitioned else Outcome.UNCHANGED


def _locked(rollout: Rollout) -> tuple[Endpoint, Rollout] | None:
    """Endpoint then rollout, locked in that order; None when the rollout moved meanwhile (an
    operator paused or aborted it): what this reconcile decided no longer applies."""
    endpoint = (
        Endpoint.objects.select_for_update(of=("self",))
        .select_related("tenant", "retiring_revision")
        .get(pk=rollout.endpoint_id)
    )
    locked = Rollout.objects.select_for_update().get(pk=rollout.pk)
    if locked.state != rollout.state or locked.generation != rollout.generation:
        return None
    # Keep the relations loaded above; take the row's fields as locked.
    for field in (
        "step",
        "weight",
        "evidence",
        "failed_checks",
        "inconclusive_streak",
        "step_passed_seconds",
        "window_start",
        "canary_ready_at",
    ):
        setattr(rollout, field, getattr(locked, field))
    return endpoint, rollout


def _canary_readiness(rollout: Rollout, backend: ClusterBackend):
    """(ready, degraded reason and message or None) of the canary revision."""
    endpoint = rollout.endpoint
    if not backend.observes_status:
        # A GitOps backend reports nothing back: the canary is as ready as its manifests are
        # written, which the endpoint's observed generation says.
        return endpoint.observed_generation >= endpoint.generation, None
    namespace, name = endpoint.tenant.namespace, rollout.to_revision.kubernetes_name
    live = backend.get(ObjectRef("apps/v1", "Deployment", namespace, name))
    state = readiness(live, pods_not_ready(backend, live, namespace), min_replicas=1)
    return state.ready_replicas >= 1, state.degraded


def _await_canary(rollout: Rollout, backend: ClusterBackend) -> Outcome:
    spec = RolloutSpec.from_json(rollout.spec)
    if rollout.canary_ready_at is not None:
        if timezone.now() < rollout.window_start:
            return _observed(rollout, rollout.window_start)
        with transaction.atomic():
            locked = _locked(rollout)
            if locked is None:
                return Outcome.UNCHANGED
            transitions.begin_analysis(rollout, actor=_actor(rollout))
        return _analyse(rollout)
    ready, degraded = _canary_readiness(rollout, backend)
    if degraded is not None:
        with transaction.atomic():
            locked = _locked(rollout)
            if locked is None:
                return Outcome.UNCHANGED
            endpoint, rollout = locked
            transitions.roll_back(
                rollout,
                endpoint,
                actor=_actor(rollout),
                reason=f"The canary cannot become ready: {degraded[0]}: {degraded[1]}",
            )
        return _observed(rollout, rollout.next_check_at, changed=True)
    if not ready:
        return _observed(rollout, next_check(settled=False))
    with transaction.atomic():
        locked = _locked(rollout)
        if locked is None:
            return Outcome.UNCHANGED
        endpoint, rollout = locked
        if spec.strategy == DIRECT:
            transitions.promote(
                rollout,
                endpoint,
                actor=_actor(rollout),
                reason="The new revision is ready; direct rollouts promote without analysis.",
            )
        else:
            transitions.start_traffic(rollout, endpoint, actor=_actor(rollout))
    return _observed(rollout, rollout.next_check_at, changed=True)


def _target(rollout: Rollout, revision: Revision) -> promql.Target:
    return promql.Target(
        namespace=rollout.endpoint.tenant.namespace, revision=revision.kubernetes_name
    )


def _sides(rollout: Rollout, start: datetime, end: datetime):
    """(canary, stable, queries, why there is no data)."""
    try:
        canary, canary_queries = observe(
            _target(rollout, rollout.to_revision), start=start, end=end
        )
        stable, stable_queries = observe(
            _target(rollout, rollout.from_revision), start=start, end=end
        )
    except TelemetryUnavailable as error:
        return None, None, {}, str(error)
    return canary, stable, {"canary": canary_queries, "stable": stable_queries}, ""


def _analyse(rollout: Rollout) -> Outcome:
    spec = RolloutSpec.from_json(rollout.spec)
    now = timezone.now()
    if rollout.next_check_at is not None and now < rollout.next_check_at:
        return _observed(rollout, rollout.next_check_at)
    start = rollout.window_start
    canary, stable, queries, unavailable = _sides(rollout, start, now)
    evidence = {name: Evidence(tuple(v)) for name, v in (rollout.evidence or {}).items()}
    result = evaluate(
        gates=spec.gates, evidence=evidence, canary=canary, stable=stable, unavailable=unavailable
    )
    with transaction.atomic():
        locked = _locked(rollout)
        if locked is None:
            return Outcome.UNCHANGED
        endpoint, rollout = locked
        check = _store_check(rollout, start, now, queries, canary, stable, result)
        _act_on(rollout, endpoint, spec, check, result, now)
    return _observed(rollout, rollout.next_check_at, changed=True)


def _store_check(
    rollout: Rollout,
    start: datetime,
    end: datetime,
    queries: dict,
    canary: Side | None,
    stable: Side | None,
    result: Result,
) -> RolloutCheck:
    number = rollout.checks.count() + 1
    return RolloutCheck.objects.create(
        rollout=rollout,
        number=number,
        step=rollout.step,
        weight=rollout.weight,
        window_start=start,
        window_end=end,
        queries=queries,
        canary=canary.summary() if canary else {},
        stable=stable.summary() if stable else {},
        statistics=result.statistics,
        verdict=result.verdict.value,
        reason=result.reason,
    )


def _act_on(
    rollout: Rollout,
    endpoint: Endpoint,
    spec: RolloutSpec,
    check: RolloutCheck,
    result: Result,
    now: datetime,
) -> None:
    actor = _actor(rollout)
    rollout.next_check_at = now + timedelta(seconds=spec.analysis_interval_s)
    if result.verdict == Verdict.INCONCLUSIVE:
        # The window is not counted: the next one starts where it started, so a slow trickle of
        # requests adds up instead of being thrown away.
        rollout.inconclusive_streak += 1
        rollout.message = f"Check {check.number} inconclusive: {result.reason}"
        rollout.save(update_fields=["inconclusive_streak", "next_check_at", "message"])
        if rollout.inconclusive_streak >= spec.inconclusive_limit:
            transitions.pause(
                rollout,
                actor=actor,
                reason=f"{rollout.inconclusive_streak} inconclusive checks in a row (limit "
                f"{spec.inconclusive_limit}); paused for a person. Last: {result.reason}",
                check=check,
            )
        return
    rollout.evidence = {name: list(e.log_products) for name, e in result.evidence.items()}
    rollout.inconclusive_streak = 0
    window_s = (now - rollout.window_start).total_seconds()
    rollout.window_start = now
    fields = ["evidence", "inconclusive_streak", "window_start", "next_check_at", "message"]
    if result.verdict == Verdict.FAIL:
        rollout.failed_checks += 1
        rollout.message = f"Check {check.number} failed: {result.reason}"
        rollout.save(update_fields=[*fields, "failed_checks"])
        if rollout.failed_checks >= spec.failure_limit:
            transitions.roll_back(
                rollout,
                endpoint,
                actor=actor,
                reason=f"Rolled back after {rollout.failed_checks} failed check(s) (limit "
                f"{spec.failure_limit}): {result.reason}",
                check=check,
            )
        return
    rollout.step_passed_seconds += window_s
    rollout.message = f"Check {check.number} passed: {result.reason}"
    rollout.save(update_fields=[*fields, "step_passed_seconds"])
    if rollout.step_passed_seconds >= spec.bake_s:
        transitions.advance(rollout, endpoint, actor=actor, check=check)


def _retire(rollout: Rollout) -> Outcome:
    endpoint = rollout.endpoint
    now = timezone.now()
    if rollout.retire_after is not None and now < rollout.retire_after:
        return _observed(rollout, rollout.retire_after)
    if endpoint.observed_generation < (rollout.retire_generation or 0):
        # The route still sends the retired revision traffic until the endpoint reconcile
        # applies the change; its drain starts from there.
        return _observed(rollout, next_check(settled=False))
    with transaction.atomic():
        locked = _locked(rollout)
        if locked is None:
            return Outcome.UNCHANGED
        endpoint, rollout = locked
        transitions.retire(rollout, endpoint, actor=_actor(rollout))
    return _observed(rollout, rollout.next_check_at, changed=True)


def _end_with_endpoint(rollout: Rollout) -> Outcome:
    """The endpoint is being deleted: every revision goes with it, so the rollout just ends."""
    if rollout.is_active or rollout.retired_at is None:
        now = timezone.now()
        Rollout.objects.filter(pk=rollout.pk).update(
            state=Rollout.State.ABORTED if rollout.is_active else rollout.state,
            message="The endpoint is being deleted.",
            finished_at=rollout.finished_at or now,
            retired_at=now,
        )
        rollout.state = Rollout.State.ABORTED if rollout.is_active else rollout.state
    return _observed(rollout, timezone.now() + transitions.DONE_CHECK, changed=True)
