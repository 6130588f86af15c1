"""Canary gate benchmark: how fast a regression is rolled back, how often a healthy canary is.

    .venv/bin/python tests/bench/bench_canary.py [--runs 200] [--seed 1]

What runs: the analysis code of the product (`scaling.analysis.gate.evaluate`, the same function
the rollout reconciler calls) fed, per check, the bucket counts that Prometheus would return for
one analysis window: Poisson arrivals split at random by the canary weight, each request's TTFT
and time per output token drawn from a log-normal distribution (times the regression factor on
the canary) and counted into vLLM's own histogram buckets, server errors drawn per request.
This is faithful to what `scaling.analysis.observe` reads (integer counts per bucket and per
status class over one window) and runs in seconds instead of the hours of wall-clock a rollout
takes; the integration tests (tests/integration/test_canary_rollouts.py) run the same code
against real Prometheus scraping two simulators.

Against it, a Flagger-style gate on the same draws: a check fails when the canary's TTFT p95
exceeds 1.2 times the stable's (both from the buckets, as `histogram_quantile`), and the rollout
rolls back after `threshold` failed checks (1 and 5).

Workload shapes (each with its own seeds): the TTFT spread (log-normal sigma 0.3, 0.5 and 0.8),
the traffic (5 and 20 requests per second in all), and a heavy-tailed mix in which one request in
ten has a ten-times-longer prefill. Prints one table row per shape and gate, then one JSON line.
"""

from __future__ import annotations

import argparse
import bisect
import json
import math
import random
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from scaling.analysis.gate import Gates, Side, Verdict, evaluate, start_evidence  # noqa: E402
from scaling.analysis.histograms import Histogram  # noqa: E402
from scaling.vllm_simulator.metrics import TOKEN_LATENCY_BUCKETS, TTFT_BUCKETS  # noqa: E402

INTERVAL_S = 60
WEIGHT = 0.10
# A healthy canary is watched for as many checks as a default rollout takes: three steps
# (10, 25, 50 %) of three one-minute checks each.
HEALTHY_STEPS = (0.10, 0.25, 0.50)
CHECKS_PER_STEP = 3
MAX_CHECKS_REGRESSED = 10


@dataclass(frozen=True)
class Shape:
    name: str
    rate: float  # requests per second over both revisions
    ttft_median_s: float
    ttft_sigma: float
    tpot_median_s: float = 0.02
    tpot_sigma: float = 0.3
    long_prefill_share: float = 0.0  # requests whose prefill takes ten times longer


SHAPES = (
    Shape("sigma 0.5, 5 req/s", 5.0, 0.15, 0.5),
    Shape("sigma 0.3, 5 req/s", 5.0, 0.15, 0.3),
    Shape("sigma 0.8, 5 req/s", 5.0, 0.15, 0.8),
    Shape("sigma 0.5, 20 req/s", 20.0, 0.15, 0.5),
    Shape("heavy tail, 5 req/s", 5.0, 0.15, 0.5, long_prefill_share=0.1),
)


def _histogram(values: list[float], bounds: tuple[float, ...]) -> Histogram:
    counts = [0] * (len(bounds) + 1)
    for value in values:
        counts[bisect.bisect_left(bounds, value)] += 1
    cumulative, pairs = 0, []
    for bound, count in zip((*bounds, math.inf), counts, strict=True):
        cumulative += count
        pairs.append((bound, cumulative))
    return Histogram(tuple(pairs))


def _side(rng: random.Random, shape: Shape, n: int, factor: float, error_ratio: float) -> Side:
    ttfts, tpots, errors = [], [], 0
    for _ in range(n):
        if rng.random() < error_ratio:
            errors += 1
            continue
        ttft = shape.ttft_median_s * rng.lognormvariate(0.0, shape.ttft_sigma)
        if rng.random() < shape.long_prefill_share:
            ttft *= 10
        ttfts.append(ttft * factor)
        tpots.append(shape.tpot_median_s * rng.lognormvariate(0.0, shape.tpot_sigma) * factor)
    return Side(
        requests=n,
        errors=errors,
        ttft=_histogram(ttfts, TTFT_BUCKETS),
        tpot=_histogram(tpots, TOKEN_LATENCY_BUCKETS),
    )


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method is slow for large means; a normal approximation is exact enough there.
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _window(rng: random.Random, shape: Shape, weight: float, factor: float, error_ratio: float):
    n_canary = _poisson(rng, shape.rate * weight * INTERVAL_S)
    n_stable = _poisson(rng, shape.rate * (1 - weight) * INTERVAL_S)
    return (
        _side(rng, shape, n_canary, factor, error_ratio),
        _side(rng, shape, n_stable, 1.0, 0.0),
    )


def _flagger_fails(canary: Side, stable: Side, ratio: float = 1.2) -> bool:
    canary_p95, stable_p95 = canary.ttft.quantile(0.95), stable.ttft.quantile(0.95)
    if canary_p95 is None or stable_p95 is None:
        return True  # Flagger fails a check that finds no values
    return canary_p95 > ratio * stable_p95


def _run(rng: random.Random, shape: Shape, weights: list[float], factor: float) -> dict:
    """Checks until each gate rolls back (None: never within `weights`)."""
    gates = Gates()
    evidence = start_evidence(gates)
    ours = None
    flagger_failed = {1: 0, 5: 0}
    flagger = {1: None, 5: None}
    for check, weight in enumerate(weights, start=1):
        canary, stable = _window(rng, shape, weight, factor, 0.0)
        if ours is None:
            result = evaluate(gates=gates, evidence=evidence, canary=canary, stable=stable)
            evidence = result.evidence
            if result.verdict == Verdict.FAIL:
                ours = check
        if _flagger_fails(canary, stable):
            for threshold in flagger:
                flagger_failed[threshold] += 1
                if flagger[threshold] is None and flagger_failed[threshold] >= threshold:
                    flagger[threshold] = check
    return {"ours": ours, "flagger-1": flagger[1], "flagger-5": flagger[5]}


def _summarise(detections: list[int | None]) -> dict:
    caught = [d for d in detections if d is not None]
    return {
        "runs": len(detections),
        "rolled_back": len(caught),
        "mean_checks": round(statistics.fmean(caught), 2) if caught else None,
        "median_checks": statistics.median(caught) if caught else None,
        "p90_checks": sorted(caught)[math.ceil(0.9 * len(caught)) - 1] if caught else None,
        "within_3": sum(1 for d in caught if d <= 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200, help="seeded runs per scenario (>= 40)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    healthy_weights = [w for w in HEALTHY_STEPS for _ in range(CHECKS_PER_STEP)]
    regressed_weights = [WEIGHT] * MAX_CHECKS_REGRESSED
    report = []
    print(
        f"{'shape':<22} {'gate':<10} {'1.5x rolled back':>16} {'mean':>5} {'p90':>4} "
        f"{'<=3 checks':>10} {'healthy rolled back':>20}"
    )
    for index, shape in enumerate(SHAPES):
        rng = random.Random(args.seed * 1000 + index)
        regressed = [_run(rng, shape, regressed_weights, 1.5) for _ in range(args.runs)]
        healthy = [_run(rng, shape, healthy_weights, 1.0) for _ in range(args.runs)]
        for gate in ("ours", "flagger-1", "flagger-5"):
            caught = _summarise([r[gate] for r in regressed])
            false = sum(1 for r in healthy if r[gate] is not None)
            row = {
                "shape": shape.name,
                "gate": gate,
                "regression": caught,
                "healthy_runs": len(healthy),
                "healthy_rolled_back": false,
                "healthy_rolled_back_share": round(false / len(healthy), 4),
            }
            report.append(row)
            print(
                f"{shape.name:<22} {gate:<10} {caught['rolled_back']:>9}/{caught['runs']:<6} "
                f"{caught['mean_checks'] if caught['mean_checks'] is not None else '-':>5} "
                f"{caught['p90_checks'] if caught['p90_checks'] is not None else '-':>4} "
                f"{caught['within_3']:>10} {false:>12}/{len(healthy)} "
                f"({100 * false / len(healthy):.1f} %)"
            )
    print(json.dumps({"runs": args.runs, "seed": args.seed, "rows": report}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
