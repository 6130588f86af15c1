"""Named scaling presets, chosen over four workload shapes (docs/benchmarks/autoscaling.md).

`balanced` was chosen again by a second search (20 candidates around it, with the prompt-token
trigger, and a penalty per cold start per day; see its comment and decision 0014's amendment).
`latency` and `cost` are the first search's: `tests/bench/bench_autoscaling.py --search` then
replayed 40 candidates (queue target 1 or 3, KV-cache trigger none/0.5/0.65/0.8, four
scale-up/scale-down behaviours around `balanced`, and eight around `cost`) on chat, code, docqa
and diurnal, seeds 0-2, max 16 replicas, TTFT SLO 1 s. Each preset has a cost bound, the most
GPU-hours over the oracle it may spend on its most expensive shape (latency 3.0x, balanced 2.4x,
cost 1.7x), and within it takes the candidate whose worst shape has the highest share of
servable requests within the SLO. The benchmark page reports held-out seeds (3-7). The figures
below are the searches' (seeds 0-2; "x" is GPU-hours over the oracle). On every candidate with
a warm replica the worst shape is docqa: its long prompts are prefill-bound, so what it lacks is
capacity ahead of bursts.
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
    # Second search (seeds 0-2, cycle penalty, decision 0014 amended): worst shape (docqa)
    # 90.0 % at 0.70x; chat 100 % at 1.85x, code 99.7 % at 2.29x, diurnal 96.5 % at 1.46x; at
    # most 90 cold starts a day on any shape, against 201 (chat) for the first search's choice
    # (KV-cache 0.5, +10 pods per 300 s, 600 s window), which it beats on every shape.
    # Why these knobs: the KV-cache target at 0.2 fires on long prompts (a docqa replica holds
    # ~30 of them) and not on short ones at a steady load (chat's peak minutes do reach it, and
    # then ask for 1-3 replicas over the oracle's fleet); +4 pods per 300 s (or +100 %) overshoots less after a burst than +10, and
    # the 1200 s window keeps the capacity of the last burst for the next one instead of
    # stopping and restarting it. The prompt-token trigger (target_prompt_tokens_per_s_per_replica)
    # lifts docqa and the day further, but at a target docqa needs it spends 2.6x or more on
    # code, over the 2.4x bound: it is a per-endpoint choice (`recommend_scaling`), not a preset's.
    # 1.3x (issue 15's goal) is below code's cold-start bound (1.4x), so no reactive policy
    # reaches it there.
    "balanced": ScalingSpec(
        min_replicas=1,
        max_replicas=16,
        target_queue_per_replica=3.0,
        target_in_flight_per_replica=112.0,
        target_kv_cache_usage_per_replica=0.2,
        polling_interval_s=15,
        scale_up_pods_per_period=4,
        scale_down_stabilization_s=1200,
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
