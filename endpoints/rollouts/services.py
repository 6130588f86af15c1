"""Every write a person or automation makes to rollouts: start one, pause, resume, promote,
abort. The analysis drives the rest (`endpoints.rollouts.reconciler`)."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.utils import timezone

from control_plane.audit.services import record
from control_plane.auth.principal import Principal
from control_plane.errors import Conflict, ValidationFailed
from control_plane.scheduling import reconcile_on_commit
from control_plane.transactions import retry_on_conflict
from endpoints.catalog import validate_engine_args
from endpoints.models import Endpoint, ModelVersion, Revision, Rollout
from endpoints.rollouts import transitions
from endpoints.rollouts.spec import rollout_spec
from endpoints.services import (
    admit,
    bump_endpoint_generation,
    check_usable_by,
    lock_endpoint,
    lock_tenant,
    require_endpoint_role,
    version_target,
)

RECONCILE_ROLLOUT = "endpoints.reconcile_rollout"
ANALYSIS_QUEUE = "analysis"


def _reconcile_on_commit(rollout: Rollout) -> None:
    reconcile_on_commit(RECONCILE_ROLLOUT, rollout.pk, model=Rollout, queue=ANALYSIS_QUEUE)


@retry_on_conflict
def rollout_start(
    *,
    actor: Principal,
    endpoint: Endpoint,
    model_version: ModelVersion,
    settings: dict[str, Any],
    engine_args: dict[str, Any] | None = None,
) -> Rollout:
    """A new revision of `model_version` (with `engine_args` over the version's own) next to
    the stable one, at weight 0 until it is ready; refused before anything reaches the cluster
    when the tenant's quota cannot hold both revisions at the endpoint's maximum scale."""
    tenant = endpoint.tenant
    require_endpoint_role(actor, tenant, "deployer", "rollout.start", endpoint.name)
    spec = rollout_spec(settings)
    engine_args = engine_args or {}
    if not isinstance(engine_args, dict):
        raise ValidationFailed("must be an object of engine arguments", field="engine_args")
    validate_engine_args(
        {**model_version.engine_args, **engine_args},
        gpus_per_replica=model_version.gpus_per_replica,
        mig_profile=model_version.mig_profile,
    )
    check_usable_by(model_version, tenant)
    try:
        with transaction.atomic():
            locked_tenant = lock_tenant(tenant)
            locked = lock_endpoint(endpoint)
            active = Rollout.objects.filter(
                endpoint=endpoint, state__in=Rollout.ACTIVE_STATES
            ).first()
            if active is not None:
                raise Conflict(
                    f"Rollout {active.pk} of {endpoint.name} is {active.state}; finish, abort "
                    "or promote it before starting another."
                )
            if locked.retiring_revision_id is not None:
                raise Conflict(
                    f"{endpoint.name}'s previous revision is still draining; start the next "
                    "rollout once it is retired."
                )
            stable = Revision.objects.select_related("model_version").get(
                pk=locked.stable_revision_id
            )
            if stable.model_version_id == model_version.pk and (
                stable.effective_engine_args == {**model_version.engine_args, **engine_args}
            ):
                raise ValidationFailed(
                    f"{endpoint.name} already serves {version_target(model_version)} with "
                    "these engine arguments; nothing to roll out.",
                    field="model_version",
                )
            admit(
                tenant=locked_tenant,
                versions=[stable.model_version, model_version],
                max_replicas=endpoint.scaling_policy.max_replicas,
                replacing=endpoint,
            )
            number = (locked.revisions.aggregate(n=Max("number"))["n"] or 0) + 1
            revision = Revision.objects.create(
                endpoint=endpoint,
                model_version=model_version,
                number=number,
                engine_args=engine_args,
            )
            Endpoint.objects.filter(pk=endpoint.pk).update(
                canary_revision=revision, canary_weight=0
            )
            bump_endpoint_generation(endpoint)
            rollout = Rollout.objects.create(
                endpoint=endpoint,
                from_revision=stable,
                to_revision=revision,
                strategy=spec.strategy,
                spec=spec.as_json(),
                message=f"Waiting for {revision.kubernetes_name} to become ready.",
                next_check_at=timezone.now(),
                created_by=actor.label,
            )
            record(
                actor=actor,
                action="rollout.start",
                target_type="rollout",
                target_id=transitions.audit_target(rollout),
                tenant_slug=tenant.slug,
                changes={
                    "from": {"before": None, "after": stable.kubernetes_name},
                    "to": {"before": None, "after": revision.kubernetes_name},
                    "model_version": {"before": None, "after": version_target(model_version)},
                    "engine_args": {"before": None, "after": engine_args},
                    "spec": {"before": None, "after": rollout.spec},
                },
            )
            _reconcile_on_commit(rollout)
    except IntegrityError:
        raise Conflict(f"{endpoint.name} already has an active rollout.") from None
    rollout.endpoint = endpoint
    return rollout


def _act(
    actor: Principal, rollout: Rollout, action: str, allowed: tuple[str, ...], move
) -> Rollout:
    endpoint = rollout.endpoint
    require_endpoint_role(actor, endpoint.tenant, "deployer", f"rollout.{action}", endpoint.name)
    with transaction.atomic():
        locked_endpoint = (
            Endpoint.objects.select_for_update(of=("self",))
            .select_related("tenant")
            .get(pk=endpoint.pk)
        )
        locked = (
            Rollout.objects.select_for_update(of=("self",))
            .select_related("endpoint__tenant", "from_revision", "to_revision")
            .get(pk=rollout.pk)
        )
        if locked.state not in allowed:
            raise Conflict(
                f"Rollout {rollout.pk} is {locked.state}: only a rollout that is "
                f"{' or '.join(allowed)} can {action}."
            )
        move(locked, locked_endpoint)
        Rollout.objects.filter(pk=locked.pk).update(generation=F("generation") + 1)
        _reconcile_on_commit(locked)
    # Answered from what the transaction wrote, not re-read after COMMIT (decision 0006).
    locked.generation += 1
    return locked


_RUNNING = (Rollout.State.PENDING, Rollout.State.PROGRESSING)


@retry_on_conflict
def rollout_pause(*, actor: Principal, rollout: Rollout, reason: str = "") -> Rollout:
    return _act(
        actor,
        rollout,
        "pause",
        _RUNNING,
        lambda r, e: transitions.pause(r, actor=actor, reason=reason or "Paused by a person."),
    )


@retry_on_conflict
def rollout_resume(*, actor: Principal, rollout: Rollout, reason: str = "") -> Rollout:
    return _act(
        actor,
        rollout,
        "resume",
        (Rollout.State.PAUSED,),
        lambda r, e: transitions.resume(r, actor=actor, reason=reason or "Resumed by a person."),
    )


def _promote_now(actor: Principal, reason: str):
    def move(rollout: Rollout, endpoint: Endpoint) -> None:
        if rollout.canary_ready_at is None:
            raise Conflict(
                f"Rollout {rollout.pk}'s canary has not become ready; promote it once it serves."
            )
        transitions.promote(
            rollout,
            endpoint,
            actor=actor,
            reason=f"Promoted by {actor.label}, skipping the remaining steps: {reason}",
        )

    return move


@retry_on_conflict
def rollout_promote(*, actor: Principal, rollout: Rollout, reason: str) -> Rollout:
    if not reason.strip():
        raise ValidationFailed("say why the remaining steps are skipped", field="reason")
    return _act(
        actor, rollout, "promote", Rollout.ACTIVE_STATES, _promote_now(actor, reason.strip())
    )


@retry_on_conflict
def rollout_abort(*, actor: Principal, rollout: Rollout, reason: str = "") -> Rollout:
    return _act(
        actor,
        rollout,
        "abort",
        Rollout.ACTIVE_STATES,
        lambda r, e: transitions.roll_back(
            r,
            e,
            actor=actor,
            reason=f"Aborted by {actor.label}" + (f": {reason}" if reason else "."),
            state=Rollout.State.ABORTED,
        ),
    )
