"""Named scaling presets, chosen over four workload shapes (docs/benchmarks/autoscaling.md).

Every preset is judged by the second search's rule (decision 0014, amended): within the
preset's cost bound, the most GPU-hours over the oracle it may spend on its most expensive shape
(latency 3.0x, balanced 2.4x, cost 1.7x), the candidate whose worst shape has the highest share
of servable requests within the SLO, less 0.01 point per cold start per day on the shape that
cycles most. `tests/bench/bench_autoscaling.py --search` replays each preset's candidates on
chat, code, docqa and diurnal, seeds 0-2, max 16 replicas, TTFT SLO 1 s; the benchmark page
reports held-out seeds (3-7). `balanced` was chosen by the second search (with the prompt-token
trigger among its candidates), `latency` by the third (after chat's diagnosis), `cost` by the
first. The fourth search re-ran the second and third searches' candidates after a simulator fix
(a replica prefilling its only request was taken for idle), plus lower KV-cache targets for
`balanced`, and kept all three. The figures below are the fourth search's (seeds 0-2; "x" is
GPU-hours over the oracle). On every candidate with a warm replica the worst shape is docqa: its
long prompts are prefill-bound, so what it lacks is capacity ahead of bursts.
"""

from __future__ import annotations

from scaling.spec import ScalingSpec

PRESETS: dict[str, ScalingSpec] = {
    # Fourth search (seeds 0-2, cycle penalty): worst shape (docqa) 94.9 % at 0.91x; chat 100 %
    # at 2.15x, code 99.9 % at 2.59x, diurnal 99.4 % at 1.96x; at most 113 cold starts a day.
    # The first search's `latency` (KV-cache 0.5) has docqa at 91.8 %, chat at 99.0 % for 2.61x
    # and 217 cold starts a day on chat. Queue target 1 and a 1200 s scale-down window keep the
    # last burst's capacity for the next one; the KV-cache trigger at 0.2 starts replicas for
    # long prompts before they wait; +10 pods per 300 s (against balanced's +4) fills a burst
    # in one step, which costs cycles but buys docqa 3.6 points over +4.
    "latency": ScalingSpec(
        min_replicas=1,
        max_replicas=16,
        target_queue_per_replica=1.0,
        target_in_flight_per_replica=112.0,
        target_kv_cache_usage_per_replica=0.2,
        polling_interval_s=15,
        scale_up_pods_per_period=10,
        scale_down_stabilization_s=1200,
        scale_down_percent_per_period=10,
        policy_period_s=300,
    ),
    # Fourth search (seeds 0-2, cycle penalty, decision 0014 amended): worst shape (docqa)
    # 91.3 % at 0.64x; chat 100 % at 1.91x, code 99.0 % at 2.18x, diurnal 96.4 % at 1.49x; at
    # most 82 cold starts a day on any shape, against 209 (chat) for the first search's choice
    # (KV-cache 0.5, +10 pods per 300 s, 600 s window), which is over the bound on code.
    # Why these knobs: the KV-cache target at 0.2 fires on long prompts (a docqa replica holds
    # ~30 of them) and not on short ones at a steady load (chat's peak minutes do reach it, and
    # then ask for 1-3 replicas over the oracle's fleet); +4 pods per 300 s (or +100 %)
    # overshoots less after a burst than +10, and the 1200 s window keeps the capacity of the
    # last burst for the next one instead of stopping and restarting it. That window is also
    # what makes chat cost ~2x (it holds the overshoot of the start and of the peak), but the
    # third and fourth searches found nothing cheaper that holds docqa: a 600 s window or 25 %
    # down per period cycle more and serve docqa less; an in-flight target of 64 (a quarter of
    # max_num_seqs) never leads, like 112; a KV-cache target of 0.1 serves docqa 96.2 % but
    # spends 2.8x on code. The prompt-token trigger (target_prompt_tokens_per_s_per_replica)
    # lifts docqa and the day further, but at a target docqa needs it spends 2.4x or more on
    # chat or code, over the bound: the target depends on how long an endpoint's prompts take
    # against its SLO, so it is a per-endpoint choice (`recommend_scaling`), not a preset's.
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
    # Fourth search: worst shape (code) 68.0 % at 1.35x; chat 97.4 % at 1.61x, docqa 78.5 % at
    # 0.52x, diurnal 91.7 % at 1.32x; 323 cold starts a day on code. The rule with the cycle
    # penalty keeps it. Scales to zero in idle minutes (cold starts are billed and felt: code's
    # bursts from zero are its misses). Queue target 5 beat 10 on every shape for about the same
    # cost; the KV-cache trigger at 0.8 tied on code (the worst shape) and diurnal, lost 1.9
    # points on chat and won 1.1 on docqa, so the mean decided against it.
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
