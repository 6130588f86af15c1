"""Named scaling presets, chosen over four workload shapes (docs/benchmarks/autoscaling.md).

How: `tests/bench/bench_autoscaling.py --search` replays 40 candidates (queue target 1 or 3,
KV-cache trigger none/0.5/0.65/0.8, four scale-up/scale-down behaviours around `balanced`, and
eight around `cost`) on chat, code, docqa and diurnal, seeds 0-2, max 16 replicas, TTFT SLO 1 s.
Each preset has a cost bound, the most GPU-hours over the oracle it may spend on its most
expensive shape (latency 3.0x, balanced 2.4x, cost 1.7x), and within it takes the candidate whose
worst shape has the highest share of servable requests within the SLO. Seeds 3-4 are held out:
the figures on the benchmark page are theirs. The figures below are the search's (seeds 0-2;
"x" is GPU-hours over the oracle). On every candidate with a warm replica the worst shape is docqa:
its long prompts are prefill-bound, so what it lacks is capacity ahead of bursts.
"""

from __future__ import annotations

from scaling.spec import ScalingSpec

PRESETS: dict[str, ScalingSpec] = {
    # Worst shape (docqa) 89.5 % at 0.76x; chat 98.6 % at 2.61x, code 99.9 % at 2.93x, diurnal
    # 99.0 % at 2.02x. Queue target 1 and a 1200 s scale-down window keep the last burst's
    # capacity for the next one; the KV-cache trigger at 0.5 adds two points on docqa.
    "latency": ScalingSpec(
        min_replicas=1,
        max_replicas=16,
        target_queue_per_replica=1.0,
        target_in_flight_per_replica=112.0,
        target_kv_cache_usage_per_replica=0.5,
        polling_interval_s=15,
        scale_up_pods_per_period=10,
        scale_down_stabilization_s=1200,
        scale_down_percent_per_period=10,
        policy_period_s=300,
    ),
    # Worst shape (docqa) 87.5 % at 0.69x; chat 99.9 % at 2.06x, code 97.1 % at 2.36x, diurnal
    # 94.4 % at 1.69x. Before the search (no KV-cache trigger, +4 pods per 300 s) docqa was the
    # worst at 77.5 % and code at 93.8 %, for 1.73x on chat, 1.90x on code and 1.16x on diurnal.
    # The trade: ten points on docqa and three on code for 0.3-0.55x more GPU-hours on each shape.
    # On the held-out seeds the diurnal cost grew to 2.14x (oscillation: 112 cold starts a day)
    # and `latency` did better on code and diurnal for less; see the benchmark page.
    # Within 2.0x no candidate did better on its worst shape than that old preset; the goal of
    # 1.3x is below code's cold-start bound (1.4x), so no reactive policy reaches it there.
    # Why these knobs: the KV-cache trigger at 0.5 sees long prompts fill a replica that the
    # queue and in-flight targets never see full (0.65 and 0.8 fire too late: 84.5 and 84.6 %
    # on docqa); +10 pods per 300 s instead of +4 lets the fleet follow code's idle-to-10
    # bursts; scaling down one pod per 300 s after a 600 s window keeps capacity between bursts.
    "balanced": ScalingSpec(
        min_replicas=1,
        max_replicas=16,
        target_queue_per_replica=3.0,
        target_in_flight_per_replica=112.0,
        target_kv_cache_usage_per_replica=0.5,
        polling_interval_s=15,
        scale_up_pods_per_period=10,
        scale_down_stabilization_s=600,
        scale_down_percent_per_period=10,
        policy_period_s=300,
    ),
    # Worst shape (code) 68.1 % at 1.32x; chat 97.3 % at 1.61x, docqa 77.0 % at 0.54x, diurnal
    # 91.9 % at 1.36x. Scales to zero in idle minutes (cold starts are billed and felt: code's
    # bursts from zero are its misses). Queue target 5 beat 10 on every shape for about the same
    # cost; the KV-cache trigger at 0.8 tied on code (the worst shape) and diurnal, lost 1.8
    # points on chat and won 0.7 on docqa, so the mean decided against it.
    "cost": ScalingSpec(
        min_replicas=0,
        max_replicas=16,
        target_queue_per_replica=5.0,
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
