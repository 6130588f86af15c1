"""Replay a workload against a scaling policy and report cost and latency.

The workload is a trace file, or an existing endpoint's request history read from Prometheus.
With a trace it reads files and prints; with `--endpoint` it also reads the endpoint's row.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from endpoints.models import Endpoint
from scaling.comparison import compare, endpoint_workload, with_presets
from scaling.presets import PRESETS, preset
from scaling.recommendation import parse_since
from scaling.simulator.engine import SimConfig
from scaling.simulator.policy_json import PolicyError, spec_from_json
from scaling.simulator.report import format_table
from scaling.simulator.trace import Trace, load_azure_csv
from scaling.spec import ScalingSpec
from scaling.telemetry import NoRequestsObserved, TelemetryUnavailable

_TABLE_COLUMNS = [
    "policy",
    "gpu_hours",
    "gpu_hours_vs_oracle",
    "slo_attainment",
    "ttft_p50_ms",
    "ttft_p99_ms",
    "cold_starts",
    "dropped",
]


class Command(BaseCommand):
    help = (
        "Simulate a KEDA/HPA scaling policy on an Azure-format trace (TIMESTAMP, ContextTokens, "
        "GeneratedTokens) or on an endpoint's request history from Prometheus: GPU-hours, TTFT "
        "SLO attainment and percentiles, cold starts, and the oracle lower bound."
    )
    # No system checks: with a trace this is pure computation and must not need the database.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--trace", help="CSV file in the Azure trace format")
        source.add_argument(
            "--endpoint",
            metavar="TENANT/NAME",
            help="replay this endpoint's request rate and token sizes from Prometheus",
        )
        parser.add_argument(
            "--policy",
            help=(
                f"a preset ({', '.join(PRESETS)}) or a JSON object as the API's `scaling` "
                "takes it (omitted fields come from the preset it names, or balanced); "
                "with --endpoint it defaults to the endpoint's own policy"
            ),
        )
        parser.add_argument(
            "--compare",
            action="store_true",
            help="also simulate every preset (at the policy's maximum) and print one row each",
        )
        parser.add_argument("--rate-scale", type=float, default=1.0, help="compress time by N")
        parser.add_argument("--slo-ttft-ms", type=float, default=1000.0)
        parser.add_argument("--plot", help="write a PNG of arrivals, replicas and TTFT here")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--overlay", type=int, default=1, help="stack K shifted copies")
        parser.add_argument("--overlay-shift-s", type=float, default=0.0)
        parser.add_argument("--max-replicas", type=int, help="override the policy's maximum")
        parser.add_argument(
            "--since", default="24h", help="with --endpoint: window length, e.g. 90m, 24h, 7d"
        )
        parser.add_argument("--until", help="with --endpoint: window end, ISO 8601 (default: now)")
        parser.add_argument(
            "--step-s", type=int, default=60, help="with --endpoint: seconds per rate point"
        )
        parser.add_argument(
            "--cold-start",
            choices=("cached", "uncached"),
            default="cached",
            help="weights cached on the node (default) or pulled first",
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args: object, **options: object) -> None:
        slo_ms = float(options["slo_ttft_ms"])  # type: ignore[arg-type]
        if slo_ms <= 0:
            raise CommandError("--slo-ttft-ms must be positive")
        max_replicas = options["max_replicas"]
        if options["endpoint"]:
            endpoint = _endpoint(str(options["endpoint"]))
            trace, title = self._history(endpoint, options), str(options["endpoint"])
            name = _policy_name(options["policy"], default="current")
            spec = (
                self._spec(str(options["policy"]), max_replicas)  # type: ignore[arg-type]
                if options["policy"]
                else _override_max(endpoint.scaling_policy.to_spec(), max_replicas)  # type: ignore[arg-type]
            )
        else:
            if not options["policy"]:
                raise CommandError("--policy is required with --trace")
            name = _policy_name(options["policy"], default="custom")
            spec = self._spec(str(options["policy"]), max_replicas)  # type: ignore[arg-type]
            trace, title = self._trace(options)
        config = SimConfig(
            slo_ttft_ms=slo_ms,
            seed=int(options["seed"]),  # type: ignore[call-overload]
            cold_start=str(options["cold_start"]),
        )
        policies = with_presets(name, spec) if options["compare"] else {name: spec}
        comparison = compare(trace, policies, config)
        first = comparison.outcomes[0]
        if options["plot"]:
            from scaling.simulator.plot import plot_result

            plot_result(first.result, str(options["plot"]), title=title, oracle=comparison.oracle)
        if options["compare"]:
            if options["json"]:
                self.stdout.write(json.dumps(comparison.summary()))
                return
            rows = comparison.summary()["policies"]
            rows.append(  # type: ignore[union-attr]
                {
                    "policy": "oracle",
                    "gpu_hours": round(comparison.oracle.gpu_hours, 4),
                    "gpu_hours_vs_oracle": 1.0,
                }
            )
            self.stdout.write(format_table(rows, _TABLE_COLUMNS))  # type: ignore[arg-type]
            return
        summary = first.summary()
        if options["json"]:
            self.stdout.write(json.dumps(summary))
            return
        rows = [{"figure": key, "value": value} for key, value in summary.items()]
        self.stdout.write(format_table(rows, ["figure", "value"]))

    def _trace(self, options: dict[str, object]) -> tuple[Trace, str]:
        rate_scale = float(options["rate_scale"])  # type: ignore[arg-type]
        overlay = int(options["overlay"])  # type: ignore[call-overload]
        if rate_scale <= 0 or not math.isfinite(rate_scale):
            raise CommandError("--rate-scale must be a positive number")
        if overlay < 1:
            raise CommandError("--overlay must be at least 1")
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
        return trace, path.stem

    def _history(self, endpoint: Endpoint, options: dict[str, object]) -> Trace:
        if options["rate_scale"] != 1.0 or options["overlay"] != 1:
            raise CommandError("--rate-scale and --overlay apply to --trace only")
        end = _instant(options["until"]) if options["until"] else timezone.now()
        start = end - _duration(str(options["since"]))
        try:
            return endpoint_workload(
                endpoint,
                start=start,
                end=end,
                step_s=int(options["step_s"]),  # type: ignore[call-overload]
                seed=int(options["seed"]),  # type: ignore[call-overload]
            )
        except (TelemetryUnavailable, NoRequestsObserved, ValueError) as exc:
            raise CommandError(str(exc))

    def _spec(self, policy: str, max_replicas: int | None) -> ScalingSpec:
        if policy in PRESETS:
            _check_max(max_replicas)
            return preset(policy, max_replicas=max_replicas)
        if not policy.lstrip().startswith("{"):
            raise CommandError(
                f"--policy {policy!r} is neither a preset ({', '.join(PRESETS)}) nor a JSON object"
            )
        try:
            spec = spec_from_json(policy)
        except PolicyError as exc:
            raise CommandError(f"invalid policy field {exc}")
        return _override_max(spec, max_replicas)


def _policy_name(policy: object, *, default: str) -> str:
    """A preset's name, or `default` for the endpoint's own or a JSON policy."""
    return str(policy) if policy in PRESETS else default


def _check_max(max_replicas: int | None) -> None:
    if max_replicas is not None and max_replicas < 1:
        raise CommandError("--max-replicas must be at least 1")


def _override_max(spec: ScalingSpec, max_replicas: int | None) -> ScalingSpec:
    _check_max(max_replicas)
    if max_replicas is not None:
        spec = spec.with_changes(max_replicas=max_replicas)
    if spec.min_replicas > spec.max_replicas:
        raise CommandError("invalid policy field min_replicas: must not exceed max_replicas")
    return spec


def _endpoint(reference: str) -> Endpoint:
    tenant, _, name = reference.partition("/")
    if not tenant or not name:
        raise CommandError(f"--endpoint {reference!r}: expected TENANT/NAME")
    endpoint = (
        Endpoint.objects.select_related("tenant", "scaling_policy")
        .filter(tenant__slug=tenant, name=name)
        .first()
    )
    if endpoint is None:
        raise CommandError(f"--endpoint {reference!r}: no such endpoint")
    return endpoint


def _duration(text: str) -> timedelta:
    try:
        return parse_since(text)
    except ValueError as exc:
        raise CommandError(f"--since {exc}") from exc


def _instant(text: object) -> datetime:
    value = parse_datetime(str(text))
    if value is None:
        raise CommandError(f"--until {text!r}: expected an ISO 8601 time")
    return value if value.tzinfo else value.replace(tzinfo=UTC)
