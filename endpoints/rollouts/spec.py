"""How a rollout proceeds: strategy, steps, timings and gates, validated once for every caller.

Defaults, and why (docs/decisions/0009-canary-analysis.md):
- steps 10, 25, 50, 100 percent: the last step is the promotion itself (at 100 % the stable
  revision gets no traffic left to compare with), so every analysed step has both sides;
- a one-minute analysis interval: four samples at the PodMonitor's 15 s scrape interval;
- a bake time of three minutes per step: three passing checks before more traffic moves;
- two minutes of warm-up after the canary's pods are ready, so cold starts and cold caches never
  enter a window;
- gates: see `scaling.analysis.gate.Gates`; one failed check rolls back (the sequential test
  has already weighed every window so far: a higher limit only delays the rollback), five
  inconclusive checks in a row pause the rollout for a person.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

from django.conf import settings

from control_plane.errors import ValidationFailed
from scaling.analysis.gate import Gates

CANARY = "canary"
DIRECT = "direct"
DEFAULT_STEPS = (10, 25, 50, 100)
MAX_STEPS = 20


@dataclass(frozen=True)
class RolloutSpec:
    strategy: str = CANARY
    steps: tuple[int, ...] = DEFAULT_STEPS
    analysis_interval_s: int = 60
    bake_s: int = 180
    warmup_s: int = 120
    failure_limit: int = 1
    inconclusive_limit: int = 5
    gates: Gates = dataclass_field(default_factory=Gates)

    def as_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "steps": list(self.steps)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RolloutSpec:
        return cls(**{**data, "steps": tuple(data["steps"]), "gates": Gates(**data["gates"])})

    @property
    def analysed_steps(self) -> tuple[int, ...]:
        """The weights at which checks run; reaching the last step (100) is the promotion."""
        return self.steps[:-1]


def _fail(name: str, message: str) -> None:
    raise ValidationFailed(message, field=name)


def _number(field: str, value: Any, *, low: float, high: float, integer: bool = False) -> None:
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind):
        _fail(field, f"must be {'an integer' if integer else 'a number'}, not {value!r}")
    if not math.isfinite(value) or not low <= value <= high:
        _fail(field, f"must be between {low:g} and {high:g}, not {value!r}")


def rollout_spec(data: dict[str, Any]) -> RolloutSpec:
    """A RolloutSpec from request-shaped input (field names as in the API), or ValidationFailed
    naming the field and the rule it breaks."""
    strategy = data.get("strategy", CANARY)
    if strategy not in (CANARY, DIRECT):
        _fail("strategy", f"must be {CANARY} or {DIRECT}, not {strategy!r}")
    if strategy == DIRECT:
        analysis_only = sorted(set(data) - {"strategy"})
        if analysis_only:
            _fail(
                analysis_only[0],
                "applies to the canary strategy only: a direct rollout replaces the stable "
                "revision once the new one is ready, without analysis",
            )
        return RolloutSpec(strategy=DIRECT, steps=(100,))
    steps = data.get("steps", list(DEFAULT_STEPS))
    if not isinstance(steps, list) or not 1 <= len(steps) <= MAX_STEPS:
        _fail("steps", f"must be a list of 1 to {MAX_STEPS} percentages")
    for step in steps:
        _number("steps", step, low=1, high=100, integer=True)
    if any(b <= a for a, b in itertools.pairwise(steps)):
        _fail("steps", f"must increase strictly, not {steps}")
    if steps[-1] != 100:
        _fail("steps", f"must end at 100 (the promotion), not {steps[-1]}")
    if len(steps) < 2:
        _fail("steps", "need at least one analysed step below 100; use strategy direct to skip")
    minimum = settings.ROLLOUT_MIN_INTERVAL_SECONDS
    defaults = RolloutSpec()
    values: dict[str, Any] = {"strategy": CANARY, "steps": tuple(steps)}
    for field, low, high in (
        ("analysis_interval_s", minimum, 3600),
        ("bake_s", 0, 86400),
        ("warmup_s", 0, 3600),
        ("failure_limit", 1, 100),
        ("inconclusive_limit", 1, 1000),
    ):
        value = data.get(field, getattr(defaults, field))
        _number(field, value, low=low, high=high, integer=True)
        values[field] = value
    return RolloutSpec(**values, gates=_gates(data.get("gates") or {}))


def _gates(data: dict[str, Any]) -> Gates:
    defaults = Gates()
    values: dict[str, Any] = {}
    for field, low, high, optional, integer in (
        ("ttft_p95_slo_s", 0.001, 3600, True, False),
        ("tpot_p95_slo_s", 0.0001, 60, True, False),
        ("max_error_ratio", 0.0001, 0.5, True, False),
        ("tolerated_odds_ratio", 1, 100, False, False),
        ("alpha", 0.001, 0.2, False, False),
        ("min_requests", 1, 1_000_000, False, True),
    ):
        value = data.get(field, getattr(defaults, field))
        if value is None and optional:
            values[field] = None
            continue
        _number(f"gates.{field}", value, low=low, high=high, integer=integer)
        values[field] = float(value) if not integer else value
    return Gates(**values)
