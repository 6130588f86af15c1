"""Named scaling presets, chosen from the autoscaling benchmark (docs/benchmarks/autoscaling.md).

Figures below: `tests/bench/bench_autoscaling.py --sweep`, means over seeds 0-2 (max 10 replicas,
TTFT SLO 1 s),
Azure conversation and code traces overlaid 6x; "x" is GPU-hours over the oracle lower bound.
No preset reaches 99 % within the SLO at 1.3x the oracle: the queue metric only rises once a
replica is saturated, and a cold start takes 60-120 s (see the report).
"""

from __future__ import annotations

from scaling.spec import ScalingSpec

PRESETS: dict[str, ScalingSpec] = {
    # Highest attainment among policies with at most one warm replica: conv 98.0 % at 2.40x,
    # code 92.6 % at 2.42x, 9 cold starts each. A long scale-down window (1200 s) and a 10-pod
    # scale-up step keep the capacity of the last burst for the next one. Warm minimums of 3-4
    # did better on conv (98.9-100 %) but a minimum sized to one trace's load is not a preset.
    "latency": ScalingSpec(
        min_replicas=1,
        max_replicas=16,
        target_queue_per_replica=5.0,
        polling_interval_s=15,
        scale_up_pods_per_period=10,
        scale_down_stabilization_s=1200,
        scale_down_percent_per_period=10,
        policy_period_s=300,
    ),
    # Queue trigger alone: conv 93.5 % at 1.84x, code 83.8 % at 1.78x; the guides reach 79-80 % at
    # 2.4-3.0x on conv and 59-63 % at 1.9-2.6x on code. Scaling down 10 % per 300 s (one pod at
    # a time) instead of 100 % per 15 s stops the fleet collapsing to one replica between
    # bursts, the main cause of the guides' misses (guide-a: 54 cold starts, here 10). Queue
    # target 3 bought 5 points on code over 5 for 0.03x; target 1 reached 88 % but at 2.31x.
    # One warm replica: scaling to zero (120 s cooldown) cost more on code (2.03x, cold starts
    # are billed) and lost 13 points (70.5 %).
    # The in-flight trigger (running + waiting per replica, `--sweep 3`) scales before anything
    # queues: at 112 conv rose from 93.5 % at 1.84x to 97.5 % at 1.63x and code stayed at
    # 83.7 % at 1.78x. Neighbours: 80 gave 97.5 % at 1.74x, 128 97.5 % at 1.59x, 144 95.8 % at
    # 1.84x and 160 no gain, so 112 sits inside the range that helps rather than at its edge.
    "balanced": ScalingSpec(
        min_replicas=1,
        max_replicas=16,
        target_queue_per_replica=3.0,
        target_in_flight_per_replica=112.0,
        polling_interval_s=15,
        scale_down_stabilization_s=600,
        scale_down_percent_per_period=10,
        policy_period_s=300,
    ),
    # Lowest GPU-hours that still beats both guide configurations on both axes: code 67.0 % at
    # 1.29x (scales to zero in the trace's idle minutes), conv 96.9 % at 1.54x. Both step
    # policies share the 600 s period, which also paces scale-up; on conv that pacing happened
    # to fit the load (neighbouring targets 3 and 5 cost 2.1-2.3x there), so expect it to cost
    # more on steady traffic than its conv figure suggests.
    "cost": ScalingSpec(
        min_replicas=0,
        max_replicas=16,
        target_queue_per_replica=10.0,
        polling_interval_s=15,
        cooldown_s=120,
        scale_down_stabilization_s=900,
        scale_down_percent_per_period=10,
        policy_period_s=600,
    ),
}


def preset(name: str, *, max_replicas: int | None = None) -> ScalingSpec:
    spec = PRESETS[name]
    if max_replicas is not None:
        spec = spec.with_changes(max_replicas=max_replicas)
    return spec
