"""Replay a request trace against a scaling policy and report cost and latency.

It reads files and prints; it never touches the database.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from scaling.presets import PRESETS, preset
from scaling.simulator.engine import SimConfig, simulate
from scaling.simulator.oracle import oracle_lower_bound
from scaling.simulator.policy_json import PolicyError, spec_from_json
from scaling.simulator.report import format_table
from scaling.simulator.trace import load_azure_csv
from scaling.spec import ScalingSpec


class Command(BaseCommand):
    help = (
        "Simulate a KEDA/HPA scaling policy on an Azure-format trace (TIMESTAMP, ContextTokens, "
        "GeneratedTokens): GPU-hours, TTFT SLO attainment and percentiles, cold starts, and the "
        "oracle lower bound."
    )
    # Pure computation: no system checks, which may need the database or other apps' settings.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--trace", required=True, help="CSV file in the Azure trace format")
        parser.add_argument(
            "--policy",
            required=True,
            help=f"a preset ({', '.join(PRESETS)}) or a ScalingSpec as a JSON object",
        )
        parser.add_argument("--rate-scale", type=float, default=1.0, help="compress time by N")
        parser.add_argument("--slo-ttft-ms", type=float, default=1000.0)
        parser.add_argument("--plot", help="write a PNG of arrivals, replicas and TTFT here")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--overlay", type=int, default=1, help="stack K shifted copies")
        parser.add_argument("--overlay-shift-s", type=float, default=0.0)
        parser.add_argument("--max-replicas", type=int, help="override the policy's maximum")
        parser.add_argument(
            "--cold-start",
            choices=("cached", "uncached"),
            default="cached",
            help="weights cached on the node (default) or pulled first",
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args: object, **options: object) -> None:
        spec = self._spec(str(options["policy"]), options["max_replicas"])  # type: ignore[arg-type]
        rate_scale = float(options["rate_scale"])  # type: ignore[arg-type]
        overlay = int(options["overlay"])  # type: ignore[call-overload]
        slo_ms = float(options["slo_ttft_ms"])  # type: ignore[arg-type]
        if rate_scale <= 0 or not math.isfinite(rate_scale):
            raise CommandError("--rate-scale must be a positive number")
        if overlay < 1:
            raise CommandError("--overlay must be at least 1")
        if slo_ms <= 0:
            raise CommandError("--slo-ttft-ms must be positive")
        path = Path(str(options["trace"]))
        try:
            trace = load_azure_csv(
                path,
                rate_scale=rate_scale,
                overlay=overlay,
                overlay_shift_s=float(options["overlay_shift_s"]),  # type: ignore[arg-type]
            )
        except (OSError, KeyError, ValueError) as exc:
            raise CommandError(f"cannot read trace {path}: {exc}")
        config = SimConfig(
            slo_ttft_ms=slo_ms,
            seed=int(options["seed"]),  # type: ignore[call-overload]
            cold_start=str(options["cold_start"]),
        )
        oracle = oracle_lower_bound(trace, config)
        # The trace is a window of a live service: every policy starts with the replicas the
        # opening minute needs, not with a cold fleet.
        if oracle.replicas:
            config = replace(config, initial_replicas=oracle.replicas[0])
        result = simulate(trace, spec, config)
        if options["plot"]:
            from scaling.simulator.plot import plot_result

            plot_result(result, str(options["plot"]), title=path.stem, oracle=oracle)
        summary: dict[str, object] = {
            **result.summary(),
            "oracle_gpu_hours": round(oracle.gpu_hours, 4),
            "gpu_hours_vs_oracle": (
                round(result.gpu_hours / oracle.gpu_hours, 3) if oracle.gpu_hours else None
            ),
        }
        if options["json"]:
            self.stdout.write(json.dumps(summary))
            return
        rows = [{"figure": key, "value": value} for key, value in summary.items()]
        self.stdout.write(format_table(rows, ["figure", "value"]))

    def _spec(self, policy: str, max_replicas: int | None) -> ScalingSpec:
        if max_replicas is not None and max_replicas < 1:
            raise CommandError("--max-replicas must be at least 1")
        if policy in PRESETS:
            return preset(policy, max_replicas=max_replicas)
        if not policy.lstrip().startswith("{"):
            raise CommandError(
                f"--policy {policy!r} is neither a preset ({', '.join(PRESETS)}) nor a JSON object"
            )
        try:
            spec = spec_from_json(policy)
        except PolicyError as exc:
            raise CommandError(f"invalid policy field {exc}")
        if max_replicas is not None:
            spec = spec.with_changes(max_replicas=max_replicas)
        if spec.min_replicas > spec.max_replicas:
            raise CommandError("invalid policy field min_replicas: must not exceed max_replicas")
        return spec
