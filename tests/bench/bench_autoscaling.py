"""Autoscaling benchmark: guide configurations and our presets on four workload shapes.

    .venv/bin/python tests/bench/bench_autoscaling.py                  # held-out seeds 3-7
    .venv/bin/python tests/bench/bench_autoscaling.py --workloads chat --seeds 0
    .venv/bin/python tests/bench/bench_autoscaling.py --calibration    # the calibration table
    .venv/bin/python tests/bench/bench_autoscaling.py --sweep          # balanced's neighbours
    .venv/bin/python tests/bench/bench_autoscaling.py --search         # how the presets are chosen
    .venv/bin/python tests/bench/bench_autoscaling.py --plots          # balanced, one PNG/shape
    .venv/bin/python tests/bench/bench_autoscaling.py --recommend-holdout 10  # chosen on seed 10
    .venv/bin/python tests/bench/bench_autoscaling.py --reactive       # a perfect signal, late
    .venv/bin/python tests/bench/bench_autoscaling.py --prefill-load   # load per oracle replica
    .venv/bin/python tests/bench/bench_autoscaling.py --profile llama-3.1-8b/h100-mig-3g.40gb \
        --keep 0.35                                         # the presets on a MIG slice

Shapes (scaling/simulator/workloads.py): chat and code from the Azure LLM inference traces
(Azure Public Dataset, CC-BY-4.0, published with the Splitwise paper, Patel et al., ISCA 2024),
long-context document QA and a 24-hour day, synthesized. Replica: Llama-3.1-8B on one H100
(calibrated, scaling/simulator/calibration.py). Fair start: every policy warms up from its own
floor on the trace's first 10 minutes, which are not measured (scaling/comparison.py).
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from statistics import mean

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from scaling.comparison import FAIR_WARMUP_S  # noqa: E402
from scaling.presets import preset  # noqa: E402
from scaling.recommendation import (  # noqa: E402
    CONFIRMATION_SEEDS,
    Recommendation,
    recommend,
)
from scaling.simulator.calibration import table as calibration_table  # noqa: E402
from scaling.simulator.engine import SimConfig, simulate  # noqa: E402
from scaling.simulator.hardware import ReplicaProfile  # noqa: E402
from scaling.simulator.oracle import oracle_lower_bound  # noqa: E402
from scaling.simulator.profiles import DEFAULT_PROFILE, HARDWARE  # noqa: E402
from scaling.simulator.reactive import (  # noqa: E402
    reactive_reference,
    reactive_reference_spec,
)
from scaling.simulator.report import format_table  # noqa: E402
from scaling.simulator.trace import Trace, thinned  # noqa: E402
from scaling.simulator.workloads import WORKLOADS  # noqa: E402
from scaling.spec import ScalingSpec  # noqa: E402

SLO_MS = 1000.0
# The presets are chosen on seeds 0-2 (`--search`); the tables report the held-out seeds 3-7.
SEEDS = (3, 4, 5, 6, 7)
MAX_REPLICAS = 16  # for the presets; an endpoint's maximum comes from its quota
TRACES_DIR = Path("/work/shared/traces")

# What a typical vLLM-on-KEDA guide ships.
GUIDE_A = ScalingSpec(
    min_replicas=0, max_replicas=10, target_queue_per_replica=5, scale_down_stabilization_s=300
)
GUIDE_B = ScalingSpec(min_replicas=1, max_replicas=8, target_queue_per_replica=10)
# `balanced` as the first search over every shape chose it (KV-cache 0.5, +10 pods per 300 s, no
# prompt-token trigger): the base of the second search, and kept in the tables for comparison.
BALANCED_BEFORE_PROMPT_TOKENS = ScalingSpec(
    min_replicas=1,
    max_replicas=MAX_REPLICAS,
    target_queue_per_replica=3.0,
    target_in_flight_per_replica=112.0,
    target_kv_cache_usage_per_replica=0.5,
    polling_interval_s=15,
    scale_up_pods_per_period=10,
    scale_down_stabilization_s=600,
    scale_down_percent_per_period=10,
    policy_period_s=300,
)
POLICIES: dict[str, ScalingSpec] = {
    "guide-a (queue 5, min 0, max 10)": GUIDE_A,
    "guide-b (queue 10, min 1, max 8)": GUIDE_B,
    **{
        f"preset {name}": preset(name, max_replicas=MAX_REPLICAS)
        for name in ("latency", "balanced", "cost")
    },
    "balanced before the prompt-token trigger": BALANCED_BEFORE_PROMPT_TOKENS,
    # What the prompt-token trigger does as a preset would carry it: over the cost bound on code
    # in the search (see `search_candidates`), so not `balanced`, but shown on every shape.
    "balanced + prompt tokens 12000/s": preset("balanced", max_replicas=MAX_REPLICAS).with_changes(
        target_prompt_tokens_per_s_per_replica=12000.0
    ),
}
# Workloads whose trace does not depend on the seed share one oracle.
SEEDED_TRACES = {"docqa", "diurnal"}


@dataclass(frozen=True)
class Replay:
    """The replica profile the shapes are replayed on, and the share of each trace's requests
    kept (`--profile`, `--keep`): a slower replica needs fewer requests for the same fleet."""

    profile: ReplicaProfile = DEFAULT_PROFILE
    keep: float = 1.0

    @property
    def is_default(self) -> bool:
        return self.profile is DEFAULT_PROFILE and self.keep == 1

    def flags(self) -> str:
        return "" if self.is_default else f" --profile {self.profile.name} --keep {self.keep:g}"


# Set once by `main`, and in each worker process by `_use_replay`.
REPLAY = Replay()


def _use_replay(replay: Replay) -> None:
    global REPLAY
    REPLAY = replay


def config(seed: int) -> SimConfig:
    return SimConfig(slo_ttft_ms=SLO_MS, seed=seed, warmup_s=FAIR_WARMUP_S, profile=REPLAY.profile)


def _seeded(workload: str) -> bool:
    """Whether the seed draws the workload's traffic (and so each seed has its own oracle)."""
    return workload in SEEDED_TRACES or REPLAY.keep < 1


@functools.lru_cache(maxsize=2)
def _trace(workload: str, seed: int, traces_dir: Path) -> Trace:
    trace = WORKLOADS[workload].build(traces_dir, seed if workload in SEEDED_TRACES else 0)
    return thinned(trace, REPLAY.keep, seed)


def _run(args: tuple[str, int, Path, ScalingSpec]) -> dict[str, float]:
    workload, seed, traces_dir, spec = args
    return simulate(_trace(workload, seed, traces_dir), spec, config(seed)).summary()


def _oracle(args: tuple[str, int, Path]) -> tuple[float, float, int]:
    workload, seed, traces_dir = args
    oracle = oracle_lower_bound(_trace(workload, seed, traces_dir), config(seed))
    return oracle.gpu_hours, oracle.cold_start_gpu_hours, max(oracle.replicas, default=0)


def _spread(values: list[float], fmt: str) -> str:
    text = fmt.format(mean(values))
    if len(values) > 1:
        text += f" ({fmt.format(min(values))}-{fmt.format(max(values))})"
    return text


def benchmark(
    workloads: list[str],
    seeds: tuple[int, ...],
    traces_dir: Path,
    pool: ProcessPoolExecutor,
    policies: dict[str, ScalingSpec] = POLICIES,
) -> dict[str, dict[str, tuple[float, float]]]:
    """Print a table per workload; return, per workload and policy, (x oracle, servable
    attainment), five-seed means."""
    summaries = {}
    for workload in workloads:
        runs_seeds = seeds
        oracle_seeds = runs_seeds if _seeded(workload) else runs_seeds[:1]
        oracles = pool.map(_oracle, [(workload, s, traces_dir) for s in oracle_seeds])
        jobs = [(workload, s, traces_dir, spec) for spec in policies.values() for s in runs_seeds]
        results = iter(pool.map(_run, jobs))
        bounds = dict(zip(oracle_seeds, oracles, strict=True))
        bound = {s: bounds[s if _seeded(workload) else oracle_seeds[0]] for s in runs_seeds}
        rows, summary = [], {}
        for name in policies:
            runs = {s: next(results) for s in runs_seeds}
            x_oracle = [runs[s]["gpu_hours"] / bound[s][0] for s in runs_seeds]
            x_cold = [runs[s]["gpu_hours"] / bound[s][1] for s in runs_seeds]
            servable = [runs[s]["slo_attainment_servable"] for s in runs_seeds]
            every = [runs[s]["slo_attainment"] for s in runs_seeds]
            summary[name] = (mean(x_oracle), mean(servable))
            rows.append(
                {
                    "policy": name,
                    "GPU-h": round(mean(runs[s]["gpu_hours"] for s in runs_seeds), 2),
                    "x oracle": _spread(x_oracle, "{:.2f}"),
                    "x cold-start bound": _spread(x_cold, "{:.2f}"),
                    "TTFT<=1s (servable)": _spread([100 * v for v in servable], "{:.1f}"),
                    "TTFT<=1s (all)": f"{100 * mean(every):.1f}",
                    "p99 TTFT s": round(mean(runs[s]["ttft_p99_ms"] for s in runs_seeds) / 1000, 1),
                    "cold starts": round(mean(runs[s]["cold_starts"] for s in runs_seeds), 1),
                }
            )
        first = runs[runs_seeds[0]]
        oracle_h = mean(bound[s][0] for s in runs_seeds)
        cold_h = mean(bound[s][1] for s in runs_seeds)
        peak = max(bound[s][2] for s in runs_seeds)
        print(f"\n## {workload}: {WORKLOADS[workload].description}")
        print(
            f"seed {runs_seeds[0]}: {first['requests']} requests ({first['servable']} servable "
            f"within the SLO on an idle replica), oracle {oracle_h:.2f} GPU-h (peak {peak} "
            f"replicas), cold-start bound {cold_h:.2f} GPU-h; means over seeds {runs_seeds} "
            "(min-max)"
        )
        print(format_table(rows, list(rows[0])))
        if "preset balanced" in summary and any(k.startswith("guide") for k in summary):
            print(_goal(summary))
        print(f"- reproduce: {command(workload, runs_seeds)}")
        summaries[workload] = summary
    return summaries


def _recommended(args: tuple[str, int, Path]) -> Recommendation:
    workload, seed, traces_dir = args
    trace = _trace(workload, seed, traces_dir)
    return recommend(trace, max_replicas=MAX_REPLICAS, config=config(seed))


def recommend_holdout(
    workloads: list[str],
    history_seed: int,
    seeds: tuple[int, ...],
    traces_dir: Path,
    pool: ProcessPoolExecutor,
) -> None:
    """The recommendation judged on traffic it did not choose on: `recommend` on the history of
    `history_seed`, then the chosen policy (with any floors it learned) replayed on `seeds`
    next to `balanced`. docqa and the day draw a new trace per seed; chat and code replay one
    trace whatever the seed (only cold starts and sampling differ), so for them the held-out
    seeds test the choice against the simulation's randomness, not against new traffic (unless
    `--keep` thins them: then the seed draws the requests kept)."""
    chosen = dict(
        zip(
            workloads,
            pool.map(_recommended, [(w, history_seed, traces_dir) for w in workloads]),
            strict=True,
        )
    )
    for workload, recommendation in chosen.items():
        print(f"\n# {workload}: recommended on seed {history_seed}: {recommendation.reason()}")
        for line in recommendation.floor_lines():
            print(f"- learned floor: {line}")
        policies = {
            "preset balanced": preset("balanced", max_replicas=MAX_REPLICAS),
            f"recommended: {recommendation.name}": recommendation.spec,
        }
        summary = benchmark([workload], seeds, traces_dir, pool, policies)[workload]
        x, slo = summary[f"recommended: {recommendation.name}"]
        met = slo >= 0.99 and x <= 1.3
        print(
            f"recommended on held-out seeds: {100 * slo:.1f} % servable within 1 s at {x:.2f}x "
            f"the oracle; goal (>= 99 % at <= 1.3x) {'met' if met else 'not met'}"
        )


# The reactive reference (scaling/simulator/reactive.py): replicas on top of the signal, and
# how long capacity is held after the need falls (none, the guides' window, the presets').
REACTIVE_HEADROOM = (0, 1, 2, 3)
REACTIVE_HOLDS_S = (0, 300, 600, 1200)
_INSTANT = replace(DEFAULT_PROFILE, cold_start_cached_s=(0.001, 0.002))


def _reactive(args: tuple[str, int, Path]) -> list[dict[str, object]]:
    workload, seed, traces_dir = args
    trace = _trace(workload, seed, traces_dir)
    cfg = config(seed)
    oracle = oracle_lower_bound(trace, cfg)
    variants = [("on time, no cold start", h, 0, 0) for h in REACTIVE_HEADROOM[:3]]
    variants += [
        ("1 min late", h, hold_s, 1) for h in REACTIVE_HEADROOM for hold_s in REACTIVE_HOLDS_S
    ]
    rows = []
    for signal, headroom, hold_s, lag in variants:
        spec = reactive_reference_spec(
            trace,
            oracle,
            hold_s=hold_s,
            max_replicas=MAX_REPLICAS,
            headroom=headroom,
            lag_intervals=lag,
        )
        result = reactive_reference(trace, spec, cfg if lag else replace(cfg, profile=_INSTANT))
        rows.append(
            {
                "oracle's fleet": signal,
                "+ replicas": headroom,
                "hold s": hold_s,
                "x oracle": result.gpu_hours / oracle.gpu_hours,
                "x cold-start bound": result.gpu_hours / oracle.cold_start_gpu_hours,
                "servable": result.slo_attainment_servable,
                "cold starts": result.cold_starts,
            }
        )
    return rows


def reactive(
    workloads: list[str], seeds: tuple[int, ...], traces_dir: Path, pool: ProcessPoolExecutor
) -> None:
    """What reacting costs on each shape, apart from how well triggers read the load: the
    oracle's fleet replayed on time with no cold start (what requests running across minutes
    cost), then one minute late with the cold start paid, with headroom and a hold."""
    for workload in workloads:
        per_seed = list(pool.map(_reactive, [(workload, s, traces_dir) for s in seeds]))
        rows = []
        for i, first in enumerate(per_seed[0]):
            runs = [seed_rows[i] for seed_rows in per_seed]
            rows.append(
                {
                    "oracle's fleet": first["oracle's fleet"],
                    "+ replicas": first["+ replicas"],
                    "hold s": first["hold s"],
                    "x oracle": _spread([r["x oracle"] for r in runs], "{:.2f}"),
                    "x cold-start bound": _spread(
                        [r["x cold-start bound"] for r in runs], "{:.2f}"
                    ),
                    "TTFT<=1s (servable)": _spread([100 * r["servable"] for r in runs], "{:.1f}"),
                    "cold starts": round(mean(r["cold starts"] for r in runs), 1),
                    "_x": mean(r["x oracle"] for r in runs),
                    "_slo": mean(r["servable"] for r in runs),
                }
            )
        print(f"\n## {workload}: reactive reference, means over seeds {seeds} (min-max)")
        print(format_table(rows, [k for k in rows[0] if not k.startswith("_")]))
        late = [r for r in rows if r["oracle's fleet"] == "1 min late" and r["_slo"] >= 0.99]
        if late:
            best = min(late, key=lambda r: r["_x"])
            print(
                f"cheapest reactive row at >= 99 %: +{best['+ replicas']} replicas, hold "
                f"{best['hold s']} s: {100 * best['_slo']:.1f} % at {best['_x']:.2f}x the oracle"
            )
        else:
            print("no reactive row reaches 99 %")


def _prefill_load(args: tuple[str, int, Path]) -> dict[str, float]:
    workload, seed, traces_dir = args
    trace = _trace(workload, seed, traces_dir)
    cfg = config(seed)
    profile = cfg.profile
    oracle = oracle_lower_bound(trace, cfg)
    prefill = [profile.prefill_s(r.prompt_tokens) for r in trace.requests]
    # The oracle's mean fleet over the trace: what one replica carries when the fleet is just
    # large enough.
    fleet = oracle.gpu_hours * 3600 / profile.gpus_per_replica / trace.duration_s
    return {
        "fleet": fleet,
        "prompt_tokens": sum(r.prompt_tokens for r in trace.requests) / trace.duration_s / fleet,
        "prefill": sum(prefill) / trace.duration_s / fleet,
        "mean_prefill": mean(prefill),
    }


def prefill_load(
    workloads: list[str], seeds: tuple[int, ...], traces_dir: Path, pool: ProcessPoolExecutor
) -> None:
    """What one replica of the oracle's fleet carries on each shape, in prompt tokens and in
    prefill seconds (the replica model's idle prefill time, quadratic attention term included):
    the target a load trigger in those units would need to track the oracle there."""
    jobs = [(w, s, traces_dir) for w in workloads for s in seeds]
    loads = dict(zip(jobs, pool.map(_prefill_load, jobs), strict=True))
    rows = []
    for w in workloads:
        runs = [loads[(w, s, traces_dir)] for s in seeds]
        rows.append(
            {
                "shape": w,
                "oracle's mean fleet": _spread([r["fleet"] for r in runs], "{:.2f}"),
                "prompt tokens/s per replica": _spread(
                    [r["prompt_tokens"] for r in runs], "{:.0f}"
                ),
                "prefill s/s per replica": _spread([r["prefill"] for r in runs], "{:.2f}"),
                "mean idle prefill s": _spread([r["mean_prefill"] for r in runs], "{:.3f}"),
            }
        )
    print(f"\n## Load per replica of the oracle's fleet, means over seeds {seeds} (min-max)")
    print(format_table(rows, list(rows[0])))


def _goal(summary: dict[str, tuple[float, float]]) -> str:
    x, slo = summary["preset balanced"]
    guides = [v for k, v in summary.items() if k.startswith("guide")]
    beats = all(x < gx and slo > gs for gx, gs in guides)
    met = slo >= 0.99 and x <= 1.3
    return (
        f"balanced goal (>= 99 % servable within 1 s at <= 1.3x oracle): "
        f"{'met' if met else 'not met'} ({100 * slo:.1f} % at {x:.2f}x); "
        f"better than both guides on both axes: {'yes' if beats else 'no'}"
    )


def command(workload: str, seeds: tuple[int, ...]) -> str:
    return (
        ".venv/bin/python tests/bench/bench_autoscaling.py "
        f"--workloads {workload} --seeds {' '.join(str(s) for s in seeds)}{REPLAY.flags()}"
    )


def sweep(workloads: list[str], traces_dir: Path, pool: ProcessPoolExecutor) -> None:
    """`balanced` with neighbouring queue and in-flight targets, seeds 0-2."""
    seeds = (0, 1, 2)
    grid = [
        preset("balanced", max_replicas=MAX_REPLICAS).with_changes(
            target_queue_per_replica=queue, target_in_flight_per_replica=in_flight
        )
        for queue in (1.0, 3.0)
        for in_flight in (None, 32.0, 64.0, 112.0, 160.0)
    ]
    rows = [
        {"queue": s.target_queue_per_replica, "in-flight": s.target_in_flight_per_replica or "-"}
        for s in grid
    ]
    for workload in workloads:
        use = seeds
        o_seeds = use if workload in SEEDED_TRACES else use[:1]
        oracle = dict(
            zip(
                o_seeds,
                pool.map(_oracle, [(workload, s, traces_dir) for s in o_seeds]),
                strict=True,
            )
        )
        results = iter(
            pool.map(_run, [(workload, s, traces_dir, spec) for spec in grid for s in use])
        )
        for row in rows:
            runs = {s: next(results) for s in use}
            base = {s: oracle[s if workload in SEEDED_TRACES else o_seeds[0]][0] for s in use}
            row[f"{workload} x"] = round(mean(runs[s]["gpu_hours"] / base[s] for s in use), 2)
            slo = mean(runs[s]["slo_attainment_servable"] for s in use)
            row[f"{workload} slo"] = f"{100 * slo:.1f}"
    print(format_table(rows, list(rows[0])))


# --- Choosing the presets -------------------------------------------------------------------
# Chosen on seeds 0-2 of every shape; seeds 3-7 are held out and only reported
# (`--seeds 3 4 5 6 7`), so no preset is fitted to the traces it is judged on. Three seeds, not
# five, for the search: a candidate costs ~3 min of CPU on the four shapes per seed (the day
# alone 25-45 s a run), and each command has to stay under ~20 min on 2 shared cores.
SEARCH_SEEDS = (0, 1, 2)
SEARCH_WORKLOADS = ("chat", "code", "docqa", "diurnal")
# Each preset's cost bound: the most GPU-hours over the oracle it may spend on its most
# expensive shape (decision 0014). Issue 15 asks 1.3x of `balanced`, but code's cold-start bound
# alone is 1.4x the oracle, so no reactive policy gets there; 2.4x is the bound the first search
# chose, 3.0x and 1.7x frame `latency` and `cost` around it.
COST_BOUNDS = {"latency": 3.0, "balanced": 2.4, "cost": 1.7}
# Scale-up/scale-down cycles: each cold start is a minute or two of a GPU billed for nothing
# and, when it comes late, of requests waiting. Within the cost bound the score is the worst
# shape's attainment (points) less CYCLE_PENALTY points per cold start per day on the shape that
# cycles most (the one-hour shapes scaled to 24 h): 100 cold starts a day cost one point, so a
# candidate that cycles has to buy it back with attainment. Ties: mean attainment, then the
# lower worst cost (decision 0014, amended).
CYCLE_PENALTY = 0.01
# (scale-up pods per period, policy period s, scale-down stabilization s). +10/300 s/600 s is
# the current `balanced`; a 1200 s window keeps the last burst's capacity for the next one;
# +4 pods per period overshoots less after a burst.
BEHAVIOURS = ((10, 300, 600), (10, 300, 1200), (4, 300, 1200))
# Prompt tokens prefilled per second per replica: an 8B H100 replica prefills ~20-25k tokens/s
# when it does nothing else; docqa's 4k-32k prompts need it well below that to start within 1 s.
PROMPT_TARGETS = (None, 10000.0, 12000.0)


def search_candidates() -> dict[str, ScalingSpec]:
    """`balanced`'s neighbours (queue 3, in-flight 112, one pod down per 300 s as in the preset):
    the prompt-token trigger's target x three scaling behaviours at KV-cache 0.5; lower targets
    (6000, 8000) on the preset's behaviour, to show what docqa would take; and KV-cache 0.3/0.2,
    which short prompts never reach, with and without the prompt-token trigger."""
    base = BALANCED_BEFORE_PROMPT_TOKENS
    grid = [(b, prompt, 0.5) for b in BEHAVIOURS for prompt in PROMPT_TARGETS]
    grid += [(BEHAVIOURS[0], prompt, 0.5) for prompt in (6000.0, 8000.0)]
    grid += [
        (b, prompt, 0.2) for b in (BEHAVIOURS[0], BEHAVIOURS[2]) for prompt in PROMPT_TARGETS[1:]
    ]
    grid += [(BEHAVIOURS[0], 12000.0, 0.3)]
    grid += [(b, None, kv) for b in (BEHAVIOURS[0], BEHAVIOURS[2]) for kv in (0.3, 0.2)]
    out: dict[str, ScalingSpec] = {}
    for (pods, period, down), prompt, kv in grid:
        name = f"pt{int(prompt) if prompt else '-'} kv{kv:g} up+{pods}/{period}s down{down}s"
        out[name] = base.with_changes(
            target_prompt_tokens_per_s_per_replica=prompt,
            target_kv_cache_usage_per_replica=kv,
            scale_up_pods_per_period=pods,
            policy_period_s=period,
            scale_down_stabilization_s=down,
        )
    return out


def chat_candidates() -> dict[str, ScalingSpec]:
    """The third search's `balanced` candidates, after the diagnosis of chat's cost (the page's
    "Why chat costs 2.2x"): the preset with an in-flight target derived from the replica
    profile (a quarter of vLLM's `max_num_seqs`, 64 on the 8B/H100 profile, instead of 112,
    which no chat replica reaches within 1 s TTFT), two faster scale-downs (a 600 s window;
    25 % per 300 s after the 1200 s window instead of one pod) and two smaller scale-up steps
    (+4 pods or 50 %, +4 pods alone, instead of +4 or 100 %)."""
    base = preset("balanced", max_replicas=MAX_REPLICAS)
    in_flight = DEFAULT_PROFILE.max_num_seqs / 4
    return {
        f"pt- kv0.2 up+4/300s down1200s in-flight {in_flight:g}": base.with_changes(
            target_in_flight_per_replica=in_flight
        ),
        "pt- kv0.2 up+4/300s down600s": base.with_changes(scale_down_stabilization_s=600),
        "pt- kv0.2 up+4/300s down1200s at 25 %/300s": base.with_changes(
            scale_down_percent_per_period=25
        ),
        # One saturated minute at chat's peak asks for 2-4x the fleet (KV-cache and queue of a
        # backlog), +100 % per period doubles it and the 1200 s window keeps the double: a
        # smaller percent step bounds that overshoot, +4 pods still fill a burst from one.
        "pt- kv0.2 up+4 or 50 %/300s down1200s": base.with_changes(scale_up_percent_per_period=50),
        "pt- kv0.2 up+4 (no %)/300s down1200s": base.with_changes(scale_up_percent_per_period=0),
    }


def kv_candidates() -> dict[str, ScalingSpec]:
    """The fourth search's `balanced` candidates, after the simulator fix (a replica prefilling
    its only request was taken for idle): docqa, the worst shape of every candidate, is the one
    the KV-cache target moves, so lower targets (0.15, 0.1), alone and with the cheaper
    scale-down the third search found (25 % per 300 s after the 1200 s window)."""
    base = preset("balanced", max_replicas=MAX_REPLICAS)
    out: dict[str, ScalingSpec] = {}
    for kv in (0.15, 0.1):
        spec = base.with_changes(target_kv_cache_usage_per_replica=kv)
        out[f"pt- kv{kv:g} up+4/300s down1200s"] = spec
        out[f"pt- kv{kv:g} up+4/300s down1200s at 25 %/300s"] = spec.with_changes(
            scale_down_percent_per_period=25
        )
    return out


def latency_candidates() -> dict[str, ScalingSpec]:
    """`latency` as the first search chose it (queue 1, KV-cache 0.5, +10 pods per 300 s, 1200 s
    window) and with the two changes the second search made to `balanced`: KV-cache 0.2 (the
    third search's choice, today's preset) and +4 pods per 300 s. The KV-cache target is set on
    every candidate, so a change to the preset cannot rename what a row replays."""
    base = preset("latency", max_replicas=MAX_REPLICAS)
    return {
        "q1 kv0.5 up+10/300s down1200s (first search's latency)": base.with_changes(
            target_kv_cache_usage_per_replica=0.5
        ),
        "q1 kv0.2 up+10/300s down1200s": base.with_changes(target_kv_cache_usage_per_replica=0.2),
        "q1 kv0.2 up+4/300s down1200s": base.with_changes(
            target_kv_cache_usage_per_replica=0.2, scale_up_pods_per_period=4
        ),
    }


def cost_candidates() -> dict[str, ScalingSpec]:
    """`cost` (min 0, queue 5, +4 pods per 600 s, 900 s window) and the two neighbours the first
    search found within its bound: KV-cache 0.8 and queue 10."""
    base = preset("cost", max_replicas=MAX_REPLICAS)
    return {
        "min0 q5 kv- up+4/600s down900s (cost)": base,
        "min0 q5 kv0.8 up+4/600s down900s": base.with_changes(
            target_kv_cache_usage_per_replica=0.8
        ),
        "min0 q10 kv- up+4/600s down900s": base.with_changes(target_queue_per_replica=10.0),
    }


def search_families() -> dict[str, dict[str, ScalingSpec]]:
    """Each preset's candidates; each family is judged within its own cost bound."""
    return {
        "balanced": {**search_candidates(), **chat_candidates(), **kv_candidates()},
        "latency": latency_candidates(),
        "cost": cost_candidates(),
    }


def _spec_key(spec: ScalingSpec) -> str:
    return json.dumps({k: v for k, v in vars(spec).items() if k != "schedule_floors"})


def _oracle_seed(workload: str, seed: int) -> int:
    return seed if workload in SEEDED_TRACES else SEARCH_SEEDS[0]


def _within(done: dict, spec: ScalingSpec, bound: float, *, oracle_seed) -> bool:
    """False once the candidate's mean cost on a shape already run exceeds `bound`."""
    for w in SEARCH_WORKLOADS:
        runs = [(s, done.get((_spec_key(spec), w, s))) for s in SEARCH_SEEDS]
        if any(r is None for _, r in runs):
            continue
        x = mean(
            r["gpu_hours"] / done[("oracle", w, oracle_seed(w, s))]["gpu_hours"] for s, r in runs
        )
        if x > bound:
            return False
    return True


def search(traces_dir: Path, pool: ProcessPoolExecutor, cache: Path) -> None:
    """Every candidate on every shape, seeds 0-2; results are cached line by line in `cache`
    so an interrupted search resumes where it stopped."""
    done: dict[tuple[str, str, int], dict] = {}
    if cache.exists():
        for line in cache.read_text().splitlines():
            row = json.loads(line)
            done[(row["key"], row["workload"], row["seed"])] = row["summary"]
    families = search_families()
    specs = {name: spec for family in families.values() for name, spec in family.items()}
    bound_of = {
        name: COST_BOUNDS[family] for family, members in families.items() for name in members
    }
    oracle_jobs = [
        (w, s, traces_dir) for w in SEARCH_WORKLOADS for s in SEARCH_SEEDS if w in SEEDED_TRACES
    ] + [(w, SEARCH_SEEDS[0], traces_dir) for w in SEARCH_WORKLOADS if w not in SEEDED_TRACES]
    missing = [j for j in oracle_jobs if ("oracle", j[0], j[1]) not in done]
    with cache.open("a") as out:
        for (workload, seed, _), bound in zip(missing, pool.map(_oracle, missing), strict=True):
            done[("oracle", workload, seed)] = {"gpu_hours": bound[0]}
            out.write(
                json.dumps(
                    {
                        "key": "oracle",
                        "workload": workload,
                        "seed": seed,
                        "summary": {"gpu_hours": bound[0]},
                    }
                )
                + "\n"
            )
            out.flush()
        # Shape by shape, ordered by trace so each worker builds a trace once (`_trace` keeps
        # two). A candidate over the cost bound on a shape cannot be chosen, so it is not run on
        # the shapes after it (the day costs most: 25-45 s a run).
        for w in SEARCH_WORKLOADS:
            jobs = [
                (w, s, traces_dir, spec)
                for s in SEARCH_SEEDS
                for name, spec in specs.items()
                if (_spec_key(spec), w, s) not in done
                and _within(done, spec, bound_of[name], oracle_seed=_oracle_seed)
            ]
            for job, summary in zip(jobs, pool.map(_run, jobs), strict=True):
                workload, seed, _, spec = job
                done[(_spec_key(spec), workload, seed)] = summary
                out.write(
                    json.dumps(
                        {
                            "key": _spec_key(spec),
                            "workload": workload,
                            "seed": seed,
                            "summary": summary,
                        }
                    )
                    + "\n"
                )
                out.flush()

    def oracle(workload: str, seed: int) -> float:
        return done[("oracle", workload, _oracle_seed(workload, seed))]["gpu_hours"]

    for family, members in families.items():
        _choose(family, members, done, oracle)


def _choose(family: str, specs: dict[str, ScalingSpec], done: dict, oracle) -> None:
    """One preset's table and choice under the rule of decision 0014 (amended)."""
    bound = COST_BOUNDS[family]
    scores = {}
    rows = []
    for name, spec in specs.items():
        row: dict[str, object] = {"candidate": name}
        slo, cost, per_day = {}, {}, {}
        for w in SEARCH_WORKLOADS:
            runs = [done.get((_spec_key(spec), w, s)) for s in SEARCH_SEEDS]
            if any(r is None for r in runs):
                row[w] = "-"
                continue
            cost[w] = mean(
                r["gpu_hours"] / oracle(w, s) for r, s in zip(runs, SEARCH_SEEDS, strict=True)
            )
            slo[w] = mean(r["slo_attainment_servable"] for r in runs)
            # Over the measured span (after the warm-up, until the last request is done).
            per_day[w] = mean(86_400 * r["cold_starts"] / r["duration_s"] for r in runs)
            row[w] = f"{cost[w]:.2f}x / {100 * slo[w]:.1f} / {per_day[w]:.0f}"
        if not slo:
            continue
        worst = min(slo.values())
        cycles = max(per_day.values())
        row["worst shape"] = f"{min(slo, key=slo.get)} {100 * worst:.1f}"
        row["cold starts/day (most)"] = f"{cycles:.0f}"
        row["most x oracle"] = f"{max(cost.values()):.2f}x"
        if len(slo) < len(SEARCH_WORKLOADS) or max(cost.values()) > bound:
            row["score"] = "over the cost bound"
        else:
            score = 100 * worst - CYCLE_PENALTY * cycles
            scores[name] = (score, mean(slo.values()), max(cost.values()))
            row["score"] = f"{score:.1f}"
        rows.append(row)
    print(
        f"\n### {family} (at most {bound}x the oracle on every shape)\n"
        "GPU-hours over the oracle / % of servable requests within 1 s / cold starts per day, "
        f"means over seeds {SEARCH_SEEDS}"
    )
    if rows:
        print(format_table(rows, list(rows[0])))
    if not scores:
        print(f"\n{family}: no candidate within {bound}x the oracle on every shape")
        return
    best = max(scores, key=lambda c: (scores[c][0], scores[c][1], -scores[c][2]))
    print(
        f"\n{family}: {best}: score {scores[best][0]:.1f}, mean {100 * scores[best][1]:.1f} %, "
        f"worst {scores[best][2]:.2f}x"
    )


def syncs(workload: str, seed: int, name: str, traces_dir: Path) -> None:
    """Why a policy holds the replicas it holds: per minute of the measured trace, the oracle's
    fleet, the replicas set, and the most each trigger asked for (the warm-up's minutes are
    negative). A count above every trigger's proposal is kept by the scale-down window or the
    step policy, not by the load."""
    spec = POLICIES[name]
    trace = _trace(workload, seed, traces_dir)
    cfg = replace(config(seed), record_syncs=True)
    result = simulate(trace, spec, cfg)
    oracle = oracle_lower_bound(trace, config(seed))
    minutes: dict[int, list] = {}
    for sync in result.syncs:
        minutes.setdefault(int((sync.t_s - cfg.warmup_s) // 60), []).append(sync)
    triggers = list(result.syncs[0].proposals) if result.syncs else []
    rows, held, total = [], 0, 0
    for minute, group in sorted(minutes.items()):
        row = {
            "minute": minute,
            "oracle": oracle.replicas[minute] if 0 <= minute < len(oracle.replicas) else "-",
            "set": max(s.desired for s in group),
        }
        for trigger in triggers:
            row[trigger] = max(s.proposals.get(trigger, 0) for s in group)
        rows.append(row)
        if minute >= 0:
            for s in group:
                total += s.desired
                held += max(0, s.desired - max(s.proposals.values()))
    print(
        f"{workload}, seed {seed}, {name}: {result.gpu_hours:.2f} GPU-h, oracle "
        f"{oracle.gpu_hours:.2f}; slo {100 * result.slo_attainment_servable:.1f} %"
    )
    print(format_table(rows, list(rows[0])))
    print(
        f"\nreplicas set above every trigger's proposal (kept by the window or the step policy): "
        f"{100 * held / max(total, 1):.0f} % of replica-syncs in the measured span"
    )


def plots(workloads: list[str], traces_dir: Path) -> None:
    from scaling.simulator.plot import plot_result

    out = ROOT / "docs" / "benchmarks" / "img"
    out.mkdir(parents=True, exist_ok=True)
    spec = POLICIES["preset balanced"]
    for workload in workloads:
        trace = _trace(workload, 0, traces_dir)
        oracle = oracle_lower_bound(trace, config(0))
        target = out / f"autoscaling-{workload}-balanced.png"
        result = simulate(trace, spec, config(0))
        plot_result(result, target, title=f"{workload}, preset balanced", oracle=oracle)
        print(f"wrote {target.relative_to(ROOT)} ({target.stat().st_size // 1024} KB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces-dir", type=Path, default=TRACES_DIR)
    parser.add_argument("--workloads", nargs="+", choices=sorted(WORKLOADS), default=None)
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    parser.add_argument("--calibration", action="store_true", help="print the calibration table")
    parser.add_argument("--sweep", action="store_true", help="balanced with neighbouring targets")
    parser.add_argument("--plots", action="store_true", help="write docs/benchmarks/img/*.png")
    parser.add_argument("--search", action="store_true", help="choose the presets (seeds 0-2)")
    parser.add_argument(
        "--cache",
        type=Path,
        default=Path("/tmp/bench_autoscaling_search.jsonl"),
        help="--search results, reused when the search runs again",
    )
    parser.add_argument(
        "--policies",
        nargs="+",
        default=None,
        help="only the policies whose name starts with one of these (the day is slow: "
        "`--policies guide 'preset balanced' 'balanced before'`)",
    )
    parser.add_argument(
        "--profile",
        choices=sorted(HARDWARE),
        default=DEFAULT_PROFILE.name,
        help="the replica profile to replay on (--search, --reactive and --sweep use the default)",
    )
    parser.add_argument(
        "--keep",
        type=float,
        default=1.0,
        help="share of each trace's requests replayed, drawn by the seed (with --profile: a "
        "slower replica needs fewer requests for a fleet of the same size)",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--syncs",
        metavar="WORKLOAD",
        choices=sorted(WORKLOADS),
        help="per minute: the oracle's fleet and each trigger's proposal for `--syncs-policy` "
        "on the first of --seeds",
    )
    parser.add_argument("--syncs-policy", default="preset balanced")
    parser.add_argument(
        "--recommend-holdout",
        metavar="HISTORY_SEED",
        type=int,
        help="recommend a policy from the history of this seed, replay it on --seeds",
    )
    parser.add_argument(
        "--prefill-load",
        action="store_true",
        help="per shape: prompt tokens and prefill seconds per replica of the oracle's fleet",
    )
    parser.add_argument(
        "--reactive",
        action="store_true",
        help="the reactive reference: the oracle's fleet one minute late, cold starts paid",
    )
    args = parser.parse_args()
    workloads = args.workloads or list(WORKLOADS)
    if args.recommend_holdout is not None:
        history = range(args.recommend_holdout, args.recommend_holdout + CONFIRMATION_SEEDS + 1)
        if set(history) & set(args.seeds):
            parser.error(
                f"--recommend-holdout {args.recommend_holdout} confirms on seeds "
                f"{list(history)}, which --seeds must not hold out"
            )
    if not 0 < args.keep <= 1:
        parser.error(f"--keep must be in (0, 1], not {args.keep}")
    _use_replay(Replay(HARDWARE[args.profile], args.keep))
    if not REPLAY.is_default and (args.search or args.reactive or args.sweep):
        parser.error("--profile and --keep apply to the tables and --recommend-holdout only")
    if args.policies:
        for name in list(POLICIES):
            if not name.startswith(tuple(args.policies)):
                del POLICIES[name]
    started = time.time()
    if args.calibration:
        print(
            format_table(
                calibration_table(), ["measurement", "published", "simulated", "unit", "error"]
            )
        )
    elif args.syncs:
        syncs(args.syncs, args.seeds[0], args.syncs_policy, args.traces_dir)
    elif args.plots:
        plots(workloads, args.traces_dir)
    else:
        with ProcessPoolExecutor(args.workers, initializer=_use_replay, initargs=(REPLAY,)) as pool:
            if args.search:
                search(args.traces_dir, pool, args.cache)
            elif args.recommend_holdout is not None:
                recommend_holdout(
                    workloads, args.recommend_holdout, tuple(args.seeds), args.traces_dir, pool
                )
            elif args.sweep:
                sweep(workloads, args.traces_dir, pool)
            elif args.prefill_load:
                prefill_load(workloads, tuple(args.seeds), args.traces_dir, pool)
            elif args.reactive:
                reactive(workloads, tuple(args.seeds), args.traces_dir, pool)
            else:
                benchmark(workloads, tuple(args.seeds), args.traces_dir, pool)
    print(f"\n({time.time() - started:.0f} s)")


if __name__ == "__main__":
    main()
