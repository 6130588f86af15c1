"""Named scaling presets.

The values are chosen from the autoscaling benchmark (docs/benchmarks/autoscaling.md), not from
taste; until that report sets them they are documented placeholders.
"""

from __future__ import annotations

from scaling.spec import ScalingSpec

PRESETS: dict[str, ScalingSpec] = {
    # Placeholder: keep one replica warm and scale early on short queues.
    "latency": ScalingSpec(
        min_replicas=1,
        target_queue_per_replica=2.0,
        polling_interval_s=10,
        scale_down_stabilization_s=600,
    ),
    # Placeholder: scale to zero after a quiet period, moderate queue target.
    "balanced": ScalingSpec(
        min_replicas=0,
        target_queue_per_replica=5.0,
        polling_interval_s=15,
        cooldown_s=600,
        scale_down_stabilization_s=300,
    ),
    # Placeholder: scale to zero quickly and tolerate longer queues.
    "cost": ScalingSpec(
        min_replicas=0,
        target_queue_per_replica=10.0,
        polling_interval_s=30,
        cooldown_s=300,
        scale_down_stabilization_s=120,
    ),
}


def preset(name: str, *, max_replicas: int | None = None) -> ScalingSpec:
    spec = PRESETS[name]
    if max_replicas is not None:
        spec = spec.with_changes(max_replicas=max_replicas)
    return spec
