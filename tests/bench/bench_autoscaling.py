"""Autoscaling benchmark: guide configurations and our presets on the Azure traces.

    .venv/bin/python tests/bench/bench_autoscaling.py            # tables (docs/benchmarks/)
    .venv/bin/python tests/bench/bench_autoscaling.py --plots    # also write the PNGs
    .venv/bin/python tests/bench/bench_autoscaling.py --sweep    # candidate grid for presets

Traces: the Azure LLM inference traces (Azure Public Dataset, CC-BY-4.0, published with the
Splitwise paper, Patel et al., ISCA 2024) with 6 copies overlaid 7 s apart, so the busiest
minutes need 4 (conversation) and 9 (code) replicas of an 8B model on one H100.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shlex
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from scaling.presets import PRESETS, preset  # noqa: E402
from scaling.simulator.engine import SimConfig, simulate  # noqa: E402
from scaling.simulator.oracle import oracle_lower_bound  # noqa: E402
from scaling.simulator.report import format_table  # noqa: E402
from scaling.simulator.trace import load_azure_csv  # noqa: E402
from scaling.spec import ScalingSpec  # noqa: E402

TRACES = {
    "conv": "AzureLLMInferenceTrace_conv.csv",
    "code": "AzureLLMInferenceTrace_code.csv",
}
OVERLAY, SHIFT_S, RATE_SCALE = 6, 7.0, 1.0
SLO_MS = 1000.0
MAX_REPLICAS = 10  # for the presets; an endpoint's maximum comes from its quota

# What a typical vLLM-on-KEDA guide ships.
GUIDE_A = ScalingSpec(
    min_replicas=0, max_replicas=10, target_queue_per_replica=5, scale_down_stabilization_s=300
)
GUIDE_B = ScalingSpec(min_replicas=1, max_replicas=8, target_queue_per_replica=10)
POLICIES: dict[str, tuple[ScalingSpec, str]] = {
    "guide-a (queue 5, min 0, max 10)": (
        GUIDE_A,
        '{"min_replicas": 0, "max_replicas": 10, "target_queue_per_replica": 5, '
        '"scale_down_stabilization_s": 300}',
    ),
    "guide-b (queue 10, min 1, max 8)": (
        GUIDE_B,
        '{"min_replicas": 1, "max_replicas": 8, "target_queue_per_replica": 10}',
    ),
    **{
        f"preset {name}": (preset(name, max_replicas=MAX_REPLICAS), name)
        for name in ("latency", "balanced", "cost")
    },
}


def _run(args: tuple[str, Path, ScalingSpec, int]) -> dict[str, object]:
    name, path, spec, seed = args
    trace = load_azure_csv(path, rate_scale=RATE_SCALE, overlay=OVERLAY, overlay_shift_s=SHIFT_S)
    return simulate(trace, spec, SimConfig(slo_ttft_ms=SLO_MS, seed=seed)).summary()


def _oracle(path: Path) -> float:
    trace = load_azure_csv(path, rate_scale=RATE_SCALE, overlay=OVERLAY, overlay_shift_s=SHIFT_S)
    return oracle_lower_bound(trace, SimConfig(slo_ttft_ms=SLO_MS)).gpu_hours


def command(path: Path, policy: str, plot: str | None = None) -> str:
    parts = [
        ".venv/bin/python manage.py simulate_scaling",
        f"--trace {path}",
        f"--policy {shlex.quote(policy)}",
        f"--rate-scale {RATE_SCALE:g} --overlay {OVERLAY} --overlay-shift-s {SHIFT_S:g}",
        f"--slo-ttft-ms {SLO_MS:g} --seed 0",
    ]
    if policy in PRESETS:
        parts.append(f"--max-replicas {MAX_REPLICAS}")
    if plot:
        parts.append(f"--plot {plot}")
    return " ".join(parts)


def benchmark(traces_dir: Path, plots: bool, pool: ProcessPoolExecutor) -> None:
    for trace_name, file_name in TRACES.items():
        path = traces_dir / file_name
        oracle = pool.submit(_oracle, path)
        jobs = [(name, path, spec, 0) for name, (spec, _) in POLICIES.items()]
        results = list(pool.map(_run, jobs))
        oracle_h = oracle.result()
        rows = []
        for (name, (_, policy)), res in zip(POLICIES.items(), results, strict=True):
            rows.append(
                {
                    "policy": name,
                    "GPU-h": res["gpu_hours"],
                    "x oracle": round(res["gpu_hours"] / oracle_h, 2),
                    "TTFT<=1s": f"{res['slo_attainment']:.2%}",
                    "p99 TTFT s": round(res["ttft_p99_ms"] / 1000, 2),
                    "cold starts": res["cold_starts"],
                    "dropped": res["dropped"],
                }
            )
        print(f"\n## {trace_name}: {file_name} x{OVERLAY} overlay, oracle {oracle_h:.2f} GPU-h")
        print(format_table(rows, list(rows[0])))
        for name, (_, policy) in POLICIES.items():
            print(f"- {name}: {command(path, policy)}")
        if plots:
            _plots(trace_name, path)


def _plots(trace_name: str, path: Path) -> None:
    from scaling.simulator.plot import plot_result

    trace = load_azure_csv(path, rate_scale=RATE_SCALE, overlay=OVERLAY, overlay_shift_s=SHIFT_S)
    config = SimConfig(slo_ttft_ms=SLO_MS, seed=0)
    oracle = oracle_lower_bound(trace, config)
    out = ROOT / "docs" / "benchmarks" / "img"
    out.mkdir(parents=True, exist_ok=True)
    for name, (spec, _) in POLICIES.items():
        slug = name.split(" (")[0].replace("preset ", "")
        target = out / f"autoscaling-{trace_name}-{slug}.png"
        result = simulate(trace, spec, config)
        plot_result(result, target, title=f"{trace_name} x{OVERLAY}, {name}", oracle=oracle)
        print(f"wrote {target.relative_to(ROOT)} ({target.stat().st_size // 1024} KB)")


def sweep(traces_dir: Path, pool: ProcessPoolExecutor) -> None:
    """A grid of candidate policies on both traces, for choosing the presets."""
    grid = []
    for min_r, target, down, ttft in itertools.product(
        (0, 1, 2),
        (1.0, 3.0),
        ((300, 100, 15), (120, 10, 60), (300, 10, 120)),
        (None, 500),
    ):
        stab, pct, period = down
        grid.append(
            ScalingSpec(
                min_replicas=min_r,
                max_replicas=MAX_REPLICAS,
                target_queue_per_replica=target,
                polling_interval_s=15,
                cooldown_s=300,
                scale_down_stabilization_s=stab,
                scale_down_percent_per_period=pct,
                policy_period_s=period,
                ttft_p95_target_ms=ttft,
            )
        )
    oracles = {n: pool.submit(_oracle, traces_dir / f) for n, f in TRACES.items()}
    jobs = [(n, traces_dir / f, spec, 0) for spec in grid for n, f in TRACES.items()]
    results = list(pool.map(_run, jobs))
    oracle_h = {n: o.result() for n, o in oracles.items()}
    rows = []
    for i, spec in enumerate(grid):
        row: dict[str, object] = {
            "min": spec.min_replicas,
            "queue": spec.target_queue_per_replica,
            "down": f"{spec.scale_down_stabilization_s}s/{spec.scale_down_percent_per_period}%"
            f"/{spec.policy_period_s}s",
            "ttft": spec.ttft_p95_target_ms,
        }
        for j, n in enumerate(TRACES):
            res = results[i * len(TRACES) + j]
            row[f"{n} x"] = round(res["gpu_hours"] / oracle_h[n], 2)
            row[f"{n} slo"] = f"{res['slo_attainment']:.2%}"
            row[f"{n} cs"] = res["cold_starts"]
        rows.append(row)
    print(format_table(rows, list(rows[0])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces-dir", type=Path, default=Path("/work/shared/traces"))
    parser.add_argument("--plots", action="store_true", help="write docs/benchmarks/img/*.png")
    parser.add_argument("--sweep", action="store_true", help="run the preset candidate grid")
    parser.add_argument("--policy-json", help="evaluate one extra ScalingSpec JSON on both traces")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    started = time.time()
    with ProcessPoolExecutor(args.workers) as pool:
        if args.policy_json:
            from scaling.simulator.policy_json import spec_from_json

            spec = spec_from_json(args.policy_json)
            for n, f in TRACES.items():
                res = _run((n, args.traces_dir / f, spec, 0))
                oracle_h = _oracle(args.traces_dir / f)
                print(n, json.dumps({**res, "x_oracle": round(res["gpu_hours"] / oracle_h, 3)}))
        elif args.sweep:
            sweep(args.traces_dir, pool)
        else:
            benchmark(args.traces_dir, args.plots, pool)
    print(f"\n({time.time() - started:.0f} s; specs: {[asdict(p[0]) for p in []]})")


if __name__ == "__main__":
    main()
