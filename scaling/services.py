"""Writes of scaling policies; called by the endpoint services inside their transactions."""

from __future__ import annotations

from typing import Any

from scaling.models import ScalingPolicy
from scaling.policy import TUNABLE_FIELDS


def policy_fields(policy: ScalingPolicy) -> dict[str, Any]:
    values = {name: getattr(policy, name) for name in TUNABLE_FIELDS}
    values["schedule_floors"] = policy.schedule_floors
    values["preset"] = policy.preset
    return values


def scaling_policy_write(*, endpoint, values: dict[str, Any]) -> ScalingPolicy:
    policy, _ = ScalingPolicy.objects.update_or_create(endpoint=endpoint, defaults=values)
    return policy
