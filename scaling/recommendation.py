"""Recommending a scaling policy from an endpoint's own traffic: every preset and a few of its
neighbours replayed on the same trace, and the cheapest that meets the TTFT goal chosen.

Neighbours, and why: the queue target at half and twice the preset's (the knob the sweep in
docs/benchmarks/autoscaling.md moves most), and the KV-cache trigger at 0.5 (what long-context
traffic needs, which the queue does not see). Each candidate keeps the endpoint's maximum: the
quota admitted it, so no recommendation may exceed it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scaling.comparison import Comparison, compare
from scaling.policy import TUNABLE_FIELDS
from scaling.presets import PRESETS, preset
from scaling.simulator.engine import SimConfig
from scaling.simulator.trace import Trace
from scaling.spec import ScalingSpec

POLICY_FIELDS = TUNABLE_FIELDS


def candidates(*, max_replicas: int) -> dict[str, ScalingSpec]:
    out: dict[str, ScalingSpec] = {}
    for name in PRESETS:
        base = preset(name, max_replicas=max_replicas)
        out[name] = base
        for factor, label in ((0.5, "queue/2"), (2.0, "queue*2")):
            out[f"{name} {label}"] = base.with_changes(
                target_queue_per_replica=base.target_queue_per_replica * factor
            )
        out[f"{name} + kv-cache 0.5"] = base.with_changes(target_kv_cache_usage_per_replica=0.5)
    return out


@dataclass(frozen=True)
class Recommendation:
    name: str
    spec: ScalingSpec
    meets_goal: bool
    comparison: Comparison
    goal: float

    def patch_body(self) -> dict[str, Any]:
        """The PATCH body that applies it: `PATCH /api/v1/tenants/<t>/endpoints/<n>/`."""
        return {"scaling": {name: getattr(self.spec, name) for name in POLICY_FIELDS}}

    def reason(self) -> str:
        row = next(o for o in self.comparison.outcomes if o.name == self.name).summary()
        attained = f"{row['slo_attainment_servable']:.1%} of servable requests within the SLO"
        cost = f"{row['gpu_hours']:.2f} GPU-hours ({row['gpu_hours_vs_oracle']}x the oracle)"
        if self.meets_goal:
            return f"{self.name}: the cheapest meeting {self.goal:.0%}: {attained}, {cost}."
        return f"No candidate meets {self.goal:.0%}; {self.name} comes closest: {attained}, {cost}."


def recommend(
    trace: Trace, *, max_replicas: int, goal: float = 0.99, config: SimConfig | None = None
) -> Recommendation:
    specs = candidates(max_replicas=max_replicas)
    comparison = compare(trace, specs, config)
    meeting = [o for o in comparison.outcomes if o.result.slo_attainment_servable >= goal]
    if meeting:
        best = min(meeting, key=lambda o: o.result.gpu_hours)
    else:
        best = max(
            comparison.outcomes,
            key=lambda o: (o.result.slo_attainment_servable, -o.result.gpu_hours),
        )
    return Recommendation(best.name, specs[best.name], bool(meeting), comparison, goal)
