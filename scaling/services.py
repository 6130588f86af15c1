"""Writes of scaling policies; called by the endpoint services inside their transactions."""

from __future__ import annotations

from scaling.models import ScalingPolicy
from scaling.spec import ScalingSpec


def scaling_policy_write(*, endpoint, spec: ScalingSpec) -> ScalingPolicy:
    # The row's columns are the spec's fields, floors as JSON.
    policy, _ = ScalingPolicy.objects.update_or_create(endpoint=endpoint, defaults=spec.as_json())
    return policy
