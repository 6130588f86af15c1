"""Turning what a user asks for (a preset, overrides, schedule floors) into validated policy
values. The API, the console and the simulator's command all go through `parse_policy`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from control_plane.errors import ValidationFailed
from scaling.presets import PRESETS
from scaling.spec import WEEKDAYS, ScalingSpec

TUNABLE_FIELDS = tuple(f.name for f in fields(ScalingSpec) if f.name != "schedule_floors")
DEFAULT_PRESET = "balanced"
MAX_REPLICAS_LIMIT = 1000


def _check(condition: bool, field: str, reason: str) -> None:
    if not condition:
        raise ValidationFailed(reason, field=f"scaling.{field}")


def _schedule_floor(raw: Any, index: int, max_replicas: int) -> dict:
    field = f"schedule_floors[{index}]"
    _check(isinstance(raw, Mapping), field, "must be an object")
    days = raw.get("days")
    _check(
        isinstance(days, list | tuple) and days and all(d in WEEKDAYS for d in days),
        f"{field}.days",
        f"must be a non-empty list of {', '.join(WEEKDAYS)}",
    )
    bounds = {}
    for name in ("start", "end"):
        value = raw.get(name)
        try:
            bounds[name] = time.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            bounds[name] = None
        _check(bounds[name] is not None, f"{field}.{name}", "must be a time like '08:00'")
    _check(bounds["start"] < bounds["end"], f"{field}.end", "must be later than start")
    zone = raw.get("timezone")
    try:
        valid_zone = isinstance(zone, str) and bool(zone) and ZoneInfo(zone) is not None
    except (ZoneInfoNotFoundError, ValueError):
        valid_zone = False
    _check(valid_zone, f"{field}.timezone", "must be an IANA time zone like 'Europe/Paris'")
    floor_replicas = raw.get("min_replicas", 1)
    _check(
        isinstance(floor_replicas, int) and 1 <= floor_replicas <= max_replicas,
        f"{field}.min_replicas",
        f"must be between 1 and max_replicas ({max_replicas})",
    )
    return {
        "days": [d for d in WEEKDAYS if d in days],
        "start": bounds["start"].strftime("%H:%M"),
        "end": bounds["end"].strftime("%H:%M"),
        "timezone": zone,
        "min_replicas": floor_replicas,
    }


def resolve_policy(
    *,
    preset: str | None,
    overrides: Mapping[str, Any],
    schedule_floors: list | None,
    base: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Policy field values: a preset's (or `base`'s) values, then the overrides on top."""
    if preset:
        _check(preset in PRESETS, "preset", f"must be one of {', '.join(sorted(PRESETS))}")
        values = {name: getattr(PRESETS[preset], name) for name in TUNABLE_FIELDS}
        floors = [] if base is None else list(base.get("schedule_floors", []))
        if base is not None:
            # A preset sets the triggers and the scaling behaviour; the replica bounds are the
            # endpoint's own (they commit quota and decide scale-to-zero) and change only when
            # the request names them.
            values["min_replicas"] = base["min_replicas"]
            values["max_replicas"] = base["max_replicas"]
    elif base is not None:
        values = {name: base[name] for name in TUNABLE_FIELDS}
        floors = list(base.get("schedule_floors", []))
    else:
        default = PRESETS[DEFAULT_PRESET]
        values = {name: getattr(default, name) for name in TUNABLE_FIELDS}
        floors = []
        preset = DEFAULT_PRESET
    for name, value in overrides.items():
        _check(name in TUNABLE_FIELDS, name, "is not a scaling policy field")
        values[name] = value
    if schedule_floors is not None:
        floors = schedule_floors

    _check(1 <= values["max_replicas"] <= MAX_REPLICAS_LIMIT, "max_replicas", "must be 1–1000")
    _check(
        0 <= values["min_replicas"] <= values["max_replicas"],
        "min_replicas",
        f"must be between 0 and max_replicas ({values['max_replicas']})",
    )
    _check(values["target_queue_per_replica"] > 0, "target_queue_per_replica", "must be > 0")
    _check(values["activation_queue"] >= 0, "activation_queue", "must be >= 0")
    ttft = values["ttft_p95_target_ms"]
    _check(ttft is None or ttft >= 1, "ttft_p95_target_ms", "must be at least 1 ms")
    in_flight = values["target_in_flight_per_replica"]
    _check(in_flight is None or in_flight > 0, "target_in_flight_per_replica", "must be > 0")
    kv = values["target_kv_cache_usage_per_replica"]
    _check(
        kv is None or 0 < kv <= 1,
        "target_kv_cache_usage_per_replica",
        "must be a share of the KV cache, above 0 and at most 1",
    )
    _check(1 <= values["polling_interval_s"] <= 3600, "polling_interval_s", "must be 1–3600 s")
    _check(0 <= values["cooldown_s"] <= 86400, "cooldown_s", "must be 0–86400 s")
    for name in ("scale_up_stabilization_s", "scale_down_stabilization_s"):
        # The HPA API bounds stabilizationWindowSeconds to one hour.
        _check(0 <= values[name] <= 3600, name, "must be 0–3600 s")
    for name in ("scale_up_pods_per_period", "scale_up_percent_per_period"):
        _check(values[name] >= 1, name, "must be at least 1")
    _check(
        values["scale_down_percent_per_period"] >= 1,
        "scale_down_percent_per_period",
        "must be >= 1",
    )
    # HPA scaling policies accept periodSeconds up to 1800.
    _check(1 <= values["policy_period_s"] <= 1800, "policy_period_s", "must be 1–1800 s")
    _check(isinstance(floors, list), "schedule_floors", "must be a list")
    values["schedule_floors"] = [
        _schedule_floor(raw, index, values["max_replicas"]) for index, raw in enumerate(floors)
    ]
    values["preset"] = preset or ""
    return values


def parse_policy(
    raw: Mapping[str, Any] | None, *, base: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Validated policy values from request-shaped input (`preset`, `schedule_floors` and field
    overrides, as the API and the console take them), over `base` (the stored policy, for a
    change: read inside the writing transaction) or over the default preset."""
    raw = raw or {}
    overrides = {
        key: value for key, value in raw.items() if key not in ("preset", "schedule_floors")
    }
    return resolve_policy(
        preset=raw.get("preset"),
        overrides=overrides,
        schedule_floors=raw.get("schedule_floors"),
        base=base,
    )
