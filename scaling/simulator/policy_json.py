"""A `ScalingSpec` from a JSON object, validated field by field."""

from __future__ import annotations

import dataclasses
import json
from datetime import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from control_plane.errors import ValidationFailed
from scaling.policy import TUNABLE_FIELDS, resolve_policy
from scaling.spec import WEEKDAYS, ScalingSpec, ScheduleFloor

_INT_FIELDS = {
    "min_replicas": 0,
    "max_replicas": 1,
    "polling_interval_s": 1,
    "cooldown_s": 0,
    "scale_up_stabilization_s": 0,
    "scale_down_stabilization_s": 0,
    "scale_up_pods_per_period": 1,
    "scale_up_percent_per_period": 1,
    "scale_down_percent_per_period": 1,
    "policy_period_s": 1,
}


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
    if not isinstance(data, dict):
        raise PolicyError("policy", "must be a JSON object")
    return spec_from_dict(data)


def spec_from_dict(data: dict[str, object]) -> ScalingSpec:
    known = {f.name for f in dataclasses.fields(ScalingSpec)}
    for name in data:
        if name not in known:
            raise PolicyError(name, "unknown field")
    values: dict[str, object] = {}
    for name, value in data.items():
        if name in _INT_FIELDS:
            values[name] = _int(name, value, _INT_FIELDS[name])
        elif (
            name in ("target_in_flight_per_replica", "target_kv_cache_usage_per_replica")
            and value is None
        ):
            values[name] = None
        elif name in (
            "target_queue_per_replica",
            "activation_queue",
            "target_in_flight_per_replica",
            "target_kv_cache_usage_per_replica",
        ):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise PolicyError(name, "must be a number")
            if name == "activation_queue" and value < 0:
                raise PolicyError(name, "must be >= 0")
            if name != "activation_queue" and value <= 0:
                raise PolicyError(name, "must be positive")
            values[name] = float(value)
        elif name == "ttft_p95_target_ms":
            values[name] = None if value is None else _int(name, value, 1)
        elif name == "schedule_floors":
            if not isinstance(value, list):
                raise PolicyError(name, "must be a list")
            values[name] = tuple(_floor(f"{name}[{i}]", item) for i, item in enumerate(value))
    spec = ScalingSpec(**values)  # type: ignore[arg-type]
    _check_with_the_api_rules(spec)
    return spec


def _check_with_the_api_rules(spec: ScalingSpec) -> None:
    """The policy the simulator replays must be one the API would accept: the same rules, from
    the one place they live (`scaling.policy.resolve_policy`), bounds and schedule floors
    included (a floor ends after it starts, on the same day)."""
    floors = [
        {
            "days": list(floor.days),
            "start": floor.start.strftime("%H:%M"),
            "end": floor.end.strftime("%H:%M"),
            "timezone": floor.timezone,
            "min_replicas": floor.min_replicas,
        }
        for floor in spec.schedule_floors
    ]
    try:
        resolve_policy(
            preset=None,
            overrides={name: getattr(spec, name) for name in TUNABLE_FIELDS},
            schedule_floors=floors,
        )
    except ValidationFailed as error:
        raise PolicyError((error.field or "policy").removeprefix("scaling."), error.message)


def _int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PolicyError(name, "must be an integer")
    if value < minimum:
        raise PolicyError(name, f"must be >= {minimum}")
    return value


def _floor(name: str, data: object) -> ScheduleFloor:
    if not isinstance(data, dict):
        raise PolicyError(name, "must be an object")
    for key in data:
        if key not in ("days", "start", "end", "timezone", "min_replicas"):
            raise PolicyError(f"{name}.{key}", "unknown field")
    days = data.get("days")
    if not isinstance(days, list) or not days or any(d not in WEEKDAYS for d in days):
        raise PolicyError(f"{name}.days", f"must be a non-empty list of {', '.join(WEEKDAYS)}")
    clock: dict[str, time] = {}
    for key in ("start", "end"):
        try:
            clock[key] = time.fromisoformat(str(data.get(key)))
        except ValueError:
            raise PolicyError(f"{name}.{key}", "must be a time like 08:00")
    zone = data.get("timezone")
    try:
        ZoneInfo(str(zone))
    except (ZoneInfoNotFoundError, ValueError):
        raise PolicyError(f"{name}.timezone", f"unknown time zone {zone!r}")
    replicas = _int(f"{name}.min_replicas", data.get("min_replicas", 1), 1)
    return ScheduleFloor(tuple(days), clock["start"], clock["end"], str(zone), replicas)
