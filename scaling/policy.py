"""Turning what a user asks for (a preset, field overrides, schedule floors) into a validated
`ScalingSpec`. This module holds every rule of a scaling policy once: the API serializer builds
its fields from `FIELD_RULES`, and the API, the console, the seed data and the simulator's policy
files all go through `parse_policy` (or `parse_change` then `ScalingChange.apply`, for a change
that must be merged over the stored policy inside the writing transaction)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from control_plane.errors import ValidationFailed
from scaling.presets import PRESETS
from scaling.spec import WEEKDAYS, ScalingSpec, ScheduleFloor

DEFAULT_PRESET = "balanced"
MAX_REPLICAS_LIMIT = 1000
FLOOR_KEYS = ("days", "start", "end", "timezone", "min_replicas")


@dataclass(frozen=True)
class FieldRule:
    """The type and bounds of one tunable field (inclusive)."""

    kind: type[int] | type[float]
    minimum: float
    maximum: float
    nullable: bool = False
    help_text: str = ""

    def describe(self) -> str:
        unit = "an integer" if self.kind is int else "a number"
        return f"must be {unit} from {self.minimum:g} to {self.maximum:g}"


FIELD_RULES: Mapping[str, FieldRule] = MappingProxyType(
    {
        "min_replicas": FieldRule(int, 0, MAX_REPLICAS_LIMIT),
        "max_replicas": FieldRule(int, 1, MAX_REPLICAS_LIMIT),
        "target_queue_per_replica": FieldRule(float, 0.01, 10_000),
        "activation_queue": FieldRule(float, 0, 10_000),
        "ttft_p95_target_ms": FieldRule(int, 1, 600_000, nullable=True),
        "target_in_flight_per_replica": FieldRule(
            float,
            0.01,
            100_000,
            nullable=True,
            help_text="Average requests running or waiting per replica; null: no such trigger.",
        ),
        "target_kv_cache_usage_per_replica": FieldRule(
            float,
            0.01,
            1,
            nullable=True,
            help_text="Average vllm:kv_cache_usage_perc per replica (0-1) the autoscaler keeps; "
            "null: no such trigger.",
        ),
        "target_prompt_tokens_per_s_per_replica": FieldRule(
            float,
            1,
            10_000_000,
            nullable=True,
            help_text="Average prompt tokens prefilled per second per replica "
            "(rate of vllm:prompt_tokens_total); null: no such trigger.",
        ),
        # KEDA's pollingInterval and cooldownPeriod are plain seconds; a day bounds the cooldown.
        "polling_interval_s": FieldRule(int, 1, 3600),
        "cooldown_s": FieldRule(int, 0, 86400),
        # The HPA API bounds stabilizationWindowSeconds to one hour
        # (https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/horizontal-pod-autoscaler-v2/).
        "scale_up_stabilization_s": FieldRule(int, 0, 3600),
        "scale_down_stabilization_s": FieldRule(int, 0, 3600),
        # A step policy of 0 would forbid scaling in that direction: refused (min 0 and max 0
        # replicas say that more clearly).
        "scale_up_pods_per_period": FieldRule(int, 1, 1000),
        "scale_up_percent_per_period": FieldRule(int, 1, 1000),
        "scale_down_percent_per_period": FieldRule(int, 1, 100),
        # HPA scaling policies accept periodSeconds up to 1800.
        "policy_period_s": FieldRule(int, 1, 1800),
    }
)
TUNABLE_FIELDS = tuple(FIELD_RULES)


def _refuse(field_name: str, reason: str) -> ValidationFailed:
    return ValidationFailed(reason, field=f"scaling.{field_name}")


def _field_value(name: str, value: Any) -> int | float | None:
    rule = FIELD_RULES.get(name)
    if rule is None:
        raise _refuse(name, "is not a scaling policy field")
    if value is None:
        if rule.nullable:
            return None
        raise _refuse(name, rule.describe())
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _refuse(name, rule.describe())
    if rule.kind is int and isinstance(value, float):
        if not value.is_integer():
            raise _refuse(name, rule.describe())
        value = int(value)
    if not rule.minimum <= value <= rule.maximum:
        raise _refuse(name, rule.describe())
    return rule.kind(value)


def _clock(raw: Any, field_name: str) -> time:
    try:
        if isinstance(raw, str) and len(raw) == 5:
            return time.fromisoformat(raw)
    except ValueError:
        pass
    raise _refuse(field_name, "must be a time like '08:00'")


def _schedule_floor(raw: Any, index: int) -> ScheduleFloor:
    """One floor, checked on its own; its replicas against `max_replicas` once that is known."""
    name = f"schedule_floors[{index}]"
    if not isinstance(raw, Mapping):
        raise _refuse(name, "must be an object")
    for key in raw:
        if key not in FLOOR_KEYS:
            raise _refuse(f"{name}.{key}", "is not a schedule floor field")
    days = raw.get("days")
    if not (isinstance(days, list | tuple) and days and all(d in WEEKDAYS for d in days)):
        raise _refuse(f"{name}.days", f"must be a non-empty list of {', '.join(WEEKDAYS)}")
    start, end = _clock(raw.get("start"), f"{name}.start"), _clock(raw.get("end"), f"{name}.end")
    if not start < end:
        # A floor over midnight is two floors: the cron triggers KEDA renders start and end on
        # the same day, and one rule everywhere is simpler than two that disagree.
        raise _refuse(f"{name}.end", "must be later than start (a floor over midnight is two)")
    zone = raw.get("timezone")
    try:
        valid_zone = isinstance(zone, str) and bool(zone) and ZoneInfo(zone) is not None
    except (ZoneInfoNotFoundError, ValueError):
        valid_zone = False
    if not valid_zone:
        raise _refuse(f"{name}.timezone", "must be an IANA time zone like 'Europe/Paris'")
    replicas = raw.get("min_replicas", 1)
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
        raise _refuse(f"{name}.min_replicas", "must be an integer of at least 1")
    return ScheduleFloor(
        days=tuple(d for d in WEEKDAYS if d in days),
        start=start,
        end=end,
        timezone=zone,
        min_replicas=replicas,
    )


@dataclass(frozen=True)
class ScalingChange:
    """A validated, possibly partial change of a scaling policy: a preset, field values, and
    schedule floors that replace the current ones. Applying it to the stored policy is a
    separate step so a write service can do it inside its transaction, over what it just read."""

    preset: str | None = None
    values: Mapping[str, int | float | None] = field(default_factory=dict)
    schedule_floors: tuple[ScheduleFloor, ...] | None = None

    def apply(self, base: ScalingSpec | None = None) -> ScalingSpec:
        """The whole policy: a preset's values (or `base`'s, or the default preset's), then the
        named values on top, checked as a whole."""
        if self.preset:
            spec = PRESETS[self.preset].with_changes(
                preset=self.preset, schedule_floors=base.schedule_floors if base else ()
            )
            if base is not None:
                # A preset sets the triggers and the scaling behaviour; the replica bounds are
                # the endpoint's own (they commit quota and decide scale-to-zero) and change
                # only when the request names them.
                spec = spec.with_changes(
                    min_replicas=base.min_replicas, max_replicas=base.max_replicas
                )
        elif base is not None:
            spec = base
        else:
            spec = PRESETS[DEFAULT_PRESET].with_changes(preset=DEFAULT_PRESET)
        spec = spec.with_changes(**self.values)
        if self.schedule_floors is not None:
            spec = spec.with_changes(schedule_floors=self.schedule_floors)
        _check_whole(spec)
        return spec.with_changes(preset=_preset_label(spec))


# What a preset decides; the replica bounds and schedule floors are the endpoint's own.
_PRESET_DECIDES = tuple(
    name for name in TUNABLE_FIELDS if name not in ("min_replicas", "max_replicas")
)


def _preset_label(spec: ScalingSpec) -> str:
    """The label stays only while every value a preset decides is still that preset's."""
    preset = PRESETS.get(spec.preset)
    if preset is None:
        return ""
    same = all(getattr(spec, name) == getattr(preset, name) for name in _PRESET_DECIDES)
    return spec.preset if same else ""


def _check_whole(spec: ScalingSpec) -> None:
    """The rules between fields."""
    if spec.min_replicas > spec.max_replicas:
        raise _refuse("min_replicas", f"must be at most max_replicas ({spec.max_replicas})")
    for index, floor in enumerate(spec.schedule_floors):
        if floor.min_replicas > spec.max_replicas:
            raise _refuse(
                f"schedule_floors[{index}].min_replicas",
                f"must be between 1 and max_replicas ({spec.max_replicas})",
            )


def parse_change(raw: Mapping[str, Any] | None) -> ScalingChange:
    """A `ScalingChange` from request-shaped input (`preset`, field overrides, `schedule_floors`),
    every field checked on its own; unknown fields are refused by name."""
    raw = {} if raw is None else raw
    if not isinstance(raw, Mapping):
        raise ValidationFailed("must be an object", field="scaling")
    # An empty preset is none (a form's "keep the current triggers").
    preset = raw.get("preset") or None
    if preset is not None and preset not in PRESETS:
        raise _refuse("preset", f"must be one of {', '.join(sorted(PRESETS))}")
    values = {
        name: _field_value(name, value)
        for name, value in raw.items()
        if name not in ("preset", "schedule_floors")
    }
    floors = raw.get("schedule_floors")
    if floors is not None and not isinstance(floors, list | tuple):
        raise _refuse("schedule_floors", "must be a list")
    return ScalingChange(
        preset=preset,
        values=MappingProxyType(values),
        schedule_floors=None
        if floors is None
        else tuple(_schedule_floor(item, index) for index, item in enumerate(floors)),
    )


def parse_policy(raw: Mapping[str, Any] | None, *, base: ScalingSpec | None = None) -> ScalingSpec:
    """A whole validated policy from request-shaped input, over `base` or the default preset."""
    return parse_change(raw).apply(base)
