"""A `ScalingSpec` from a JSON policy file: the same object the API's `scaling` field takes
(a preset and overrides, or just fields over the default preset), read by the same parser, so
a policy the simulator replays is one the API would accept."""

from __future__ import annotations

import json

from control_plane.errors import ValidationFailed
from scaling.policy import parse_policy
from scaling.spec import ScalingSpec


class PolicyError(ValueError):
    """An invalid policy; `field` names the offending field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def spec_from_json(text: str) -> ScalingSpec:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyError("policy", f"not valid JSON ({exc.msg})")
    return spec_from_dict(data)


def spec_from_dict(data: object) -> ScalingSpec:
    if not isinstance(data, dict):
        raise PolicyError("policy", "must be a JSON object")
    try:
        return parse_policy(data)
    except ValidationFailed as error:
        raise PolicyError((error.field or "policy").removeprefix("scaling."), error.message)
