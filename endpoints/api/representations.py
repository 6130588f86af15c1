"""The endpoint as the API shows it, built as plain dicts for the read routes.

`EndpointSerializer` walks DRF's field machinery for every field of every endpoint, its scaling
policy, revisions and conditions: about 1.2 ms of CPU per endpoint, a tenth of a whole read
(docs/benchmarks/api.md). This builds the same body directly. `EndpointSerializer` stays the
OpenAPI description of that body and renders the write routes' answers;
tests/api/test_endpoint_representation.py pins the two to the same output, so a field added to
one and not the other fails there.
"""

from __future__ import annotations

from control_plane.api.representations import datetime_representation
from endpoints.models import Endpoint, Revision
from endpoints.selectors import active_rollout_of
from scaling.models import ScalingPolicy
from scaling.policy import FIELD_RULES


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
        "created_at": datetime_representation(revision.created_at),
    }


def scaling_representation(policy: ScalingPolicy) -> dict:
    # The tunable fields in the serializer's order, which is FIELD_RULES' own, as their kind.
    body: dict = {"preset": policy.preset}
    body.update(
        (name, _optional(rule.kind, getattr(policy, name))) for name, rule in FIELD_RULES.items()
    )
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
    rollout = active_rollout_of(endpoint)
    if rollout is None:
        return None
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
        "created_at": datetime_representation(endpoint.created_at),
    }
