"""Recommend a scaling policy from an endpoint's own traffic (or a trace): the presets and their
neighbours replayed on it, the cheapest meeting the TTFT goal chosen, and the PATCH that applies
it (`scaling.recommendation`)."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from scaling.management.commands.simulate_scaling import _duration, _endpoint
from scaling.recommendation import recommend, recommend_for_endpoint
from scaling.simulator.engine import SimConfig
from scaling.simulator.profiles import DEFAULT_PROFILE, HARDWARE
from scaling.simulator.report import format_table
from scaling.simulator.trace import load_azure_csv
from scaling.telemetry import NoRequestsObserved, TelemetryUnavailable

COLUMNS = [
    "policy",
    "gpu_hours",
    "gpu_hours_vs_oracle",
    "slo_attainment_servable",
    "ttft_p99_ms",
    "cold_starts",
]


class Command(BaseCommand):
    help = (
        "Recommend the cheapest scaling policy that meets a TTFT goal on an endpoint's own "
        "traffic from Prometheus (--endpoint TENANT/NAME --since 7d) or on a trace file."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--endpoint", metavar="TENANT/NAME")
        source.add_argument("--trace", help="CSV file in the Azure trace format")
        parser.add_argument("--since", default="7d", help="history to replay, e.g. 24h or 7d")
        parser.add_argument(
            "--max-replicas", type=int, help="default: the endpoint's (required with --trace)"
        )
        parser.add_argument(
            "--profile",
            choices=sorted(HARDWARE),
            help="replica profile a --trace is replayed on (default: "
            f"{DEFAULT_PROFILE.name}); an endpoint's comes from the model its stable revision runs",
        )
        parser.add_argument("--slo-ttft-ms", type=float, default=1000.0)
        parser.add_argument(
            "--goal", type=float, default=0.99, help="share of servable requests within the SLO"
        )

    def handle(self, *args: object, **options: object) -> None:
        goal = float(options["goal"])  # type: ignore[arg-type]
        if not 0 < goal <= 1:
            raise CommandError("--goal must be a share above 0 and at most 1")
        slo_ttft_ms = float(options["slo_ttft_ms"])  # type: ignore[arg-type]
        max_replicas = options["max_replicas"]
        if max_replicas is not None and int(max_replicas) < 1:  # type: ignore[call-overload]
            raise CommandError("--max-replicas must be at least 1")
        profile = options["profile"]
        if profile and not options["trace"]:
            raise CommandError(
                "--profile applies to --trace only: an endpoint is replayed on the profile of "
                "the model its stable revision runs"
            )
        if options["trace"]:
            if max_replicas is None:
                raise CommandError("--max-replicas is required with --trace")
            path = Path(str(options["trace"]))
            try:
                trace = load_azure_csv(path)
            except (OSError, KeyError, ValueError) as exc:
                raise CommandError(f"cannot read trace {path}: {exc}")
            config = SimConfig(
                slo_ttft_ms=slo_ttft_ms,
                profile=HARDWARE[str(profile)] if profile else DEFAULT_PROFILE,
            )
            chosen = recommend(trace, max_replicas=int(max_replicas), goal=goal, config=config)  # type: ignore[call-overload]
            reproduce = (
                f"manage.py recommend_scaling --trace {path} --max-replicas {max_replicas} "
                f"--slo-ttft-ms {slo_ttft_ms:g} --goal {goal:g}"
            )
            if profile:
                reproduce += f" --profile {profile}"
        else:
            endpoint = _endpoint(str(options["endpoint"]))
            try:
                # The command replays any window and any number of requests; the API and the
                # console are the ones bounded.
                result = recommend_for_endpoint(
                    endpoint,
                    since=_duration(str(options["since"])),
                    slo_ttft_ms=slo_ttft_ms,
                    goal=goal,
                    end=timezone.now(),
                    max_requests=None,
                    max_window=None,
                    max_replicas=max_replicas,  # type: ignore[arg-type]
                )
            except (TelemetryUnavailable, NoRequestsObserved, ValueError) as exc:
                raise CommandError(str(exc))
            chosen = result.recommendation
            reproduce = result.command
            if max_replicas is not None:
                reproduce += f" --max-replicas {max_replicas}"
        rows = [{"policy": o.name, **o.summary()} for o in chosen.comparison.outcomes]
        self.stdout.write(format_table(rows, COLUMNS))  # type: ignore[arg-type]
        self.stdout.write("")
        lines = chosen.floor_lines()
        if lines:
            self.stdout.write("Schedule floors learned where a preset met a cold start:")
            for line in lines:
                self.stdout.write(f"  {line}")
        else:
            self.stdout.write("No schedule floor learned: no preset met a cold start.")
        self.stdout.write(chosen.reason())
        self.stdout.write("Apply it (one audited change) with PATCH on the endpoint:")
        self.stdout.write(json.dumps(chosen.patch_body(), indent=2))
        self.stdout.write(f"Reproduce: {reproduce}")
