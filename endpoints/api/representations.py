"""The endpoint as the API shows it, built as plain dicts for the read routes.

`EndpointSerializer` walks DRF's field machinery for every field of every endpoint, its scaling
policy, revisions and conditions: about 1.2 ms of CPU per endpoint, a tenth of a whole read
(docs/benchmarks/api.md). This builds the same body directly. `EndpointSerializer` stays the
OpenAPI description of that body and renders the write routes' answers;
tests/api/test_endpoint_representation.py pins the two to the same output, so a field added to
one and not the other fails there.
"""

from __future__ import annotations

from rest_framework import serializers

from endpoints.models import Endpoint, Revision, Rollout
from scaling.models import ScalingPolicy

# DRF's own formatting of datetimes (ISO 8601 in the current time zone, "Z" for UTC), so the
# two representations cannot format a timestamp differently.
_datetime = serializers.DateTimeField().to_representation

# The scaling policy's integer settings after the targets, in the serializer's order.
_POLICY_TIMINGS = (
    "polling_interval_s",
    "cooldown_s",
    "scale_up_stabilization_s",
    "scale_down_stabilization_s",
    "scale_up_pods_per_period",
    "scale_up_percent_per_period",
    "scale_down_percent_per_period",
    "policy_period_s",
)


def _optional(convert, value):
    return None if value is None else convert(value)


def revision_representation(revision: Revision | None) -> dict | None:
    if revision is None:
        return None
    version = revision.model_version
    return {
        "name": revision.kubernetes_name,
        "number": revision.number,
        "model_version": f"{version.name}:{version.version} (id {version.pk})",
        "engine_args": revision.engine_args,
        "created_at": _datetime(revision.created_at),
    }


def scaling_representation(policy: ScalingPolicy) -> dict:
    body: dict = {
        "preset": policy.preset,
        "min_replicas": policy.min_replicas,
        "max_replicas": policy.max_replicas,
        "target_queue_per_replica": float(policy.target_queue_per_replica),
        "activation_queue": float(policy.activation_queue),
        "ttft_p95_target_ms": _optional(int, policy.ttft_p95_target_ms),
        "target_in_flight_per_replica": _optional(float, policy.target_in_flight_per_replica),
        "target_kv_cache_usage_per_replica": _optional(
            float, policy.target_kv_cache_usage_per_replica
        ),
        "target_prompt_tokens_per_s_per_replica": _optional(
            float, policy.target_prompt_tokens_per_s_per_replica
        ),
    }
    body.update((name, int(getattr(policy, name))) for name in _POLICY_TIMINGS)
    body["schedule_floors"] = [
        {
            "days": [str(day) for day in floor["days"]],
            "start": str(floor["start"]),
            "end": str(floor["end"]),
            "timezone": str(floor["timezone"]),
            # The serializer's default for a floor stored without it.
            "min_replicas": int(floor.get("min_replicas", 1)),
        }
        for floor in policy.schedule_floors
    ]
    return body


def _active_rollout(endpoint: Endpoint) -> dict | None:
    # Prefetched by the selectors (`active_rollouts`); one query per page, not per endpoint.
    active = getattr(endpoint, "active_rollouts", None)
    if active is None:
        active = list(
            endpoint.rollouts.filter(state__in=Rollout.ACTIVE_STATES).select_related(
                "to_revision__endpoint"
            )
        )
    if not active:
        return None
    rollout = active[0]
    return {
        "id": rollout.id,
        "state": rollout.state,
        "step": rollout.step,
        "weight": rollout.weight,
        "to_revision": rollout.to_revision.kubernetes_name,
    }


def _condition(condition: dict) -> dict:
    return {
        name: _optional(str, condition[name])
        for name in ("type", "status", "reason", "message", "last_transition_time")
    }


def endpoint_representation(endpoint: Endpoint) -> dict:
    """What `EndpointSerializer(endpoint).data` gives, without DRF's fields."""
    return {
        "name": endpoint.name,
        "tenant": endpoint.tenant.slug,
        "served_model_name": endpoint.served_model_name,
        "state": endpoint.state,
        "stable_revision": revision_representation(endpoint.stable_revision),
        "canary_revision": revision_representation(endpoint.canary_revision),
        "canary_weight": endpoint.canary_weight,
        "retiring_revision": revision_representation(endpoint.retiring_revision),
        "active_rollout": _active_rollout(endpoint),
        "scaling": scaling_representation(endpoint.scaling_policy),
        "public_url": endpoint.public_url,
        "ready_replicas": endpoint.ready_replicas,
        "desired_replicas": endpoint.desired_replicas,
        "generation": endpoint.generation,
        "observed_generation": endpoint.observed_generation,
        "conditions": [_condition(condition) for condition in endpoint.conditions],
        "created_at": _datetime(endpoint.created_at),
    }
