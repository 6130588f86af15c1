"""What Prometheus saw of one revision over one analysis window, read through `scaling.promql`.

Each figure is an instant query at the window's end over a range as long as the window, so that
consecutive windows neither overlap nor leave gaps (the sequential tests need independent
windows). `increase` extrapolates to the window's edges, so counts are whole numbers only after
rounding (`Histogram.of`).
"""

from __future__ import annotations

import math
from datetime import datetime

from prometheus_api_client import PrometheusConnect

from scaling import promql, telemetry
from scaling.analysis.gate import Side
from scaling.analysis.histograms import Histogram


def window_range(start: datetime, end: datetime) -> str:
    if end <= start:
        raise ValueError("an analysis window must end after it starts")
    return f"{max(1, math.ceil((end - start).total_seconds()))}s"


def queries(target: promql.Target, window: str) -> dict[str, str]:
    return {
        "requests": promql.responses(target, window),
        "errors": promql.responses(target, window, status="5xx"),
        "ttft": promql.bucket_increase(promql.TIME_TO_FIRST_TOKEN, target, window),
        "tpot": promql.bucket_increase(promql.REQUEST_TIME_PER_OUTPUT_TOKEN, target, window),
    }


def observe(
    target: promql.Target,
    *,
    start: datetime,
    end: datetime,
    prometheus: PrometheusConnect | None = None,
) -> tuple[Side, dict[str, str]]:
    """(the revision's side of the window, the queries that read it). Raises
    TelemetryUnavailable when Prometheus is not configured or does not answer."""
    prometheus = prometheus or telemetry.client()
    asked = queries(target, window_range(start, end))
    at = {"time": end.timestamp()}

    def rows(name: str) -> list[dict]:
        return telemetry.ask(prometheus.custom_query, asked[name], params=at)

    ttft = Histogram.of(_buckets(rows("ttft")))
    tpot = Histogram.of(_buckets(rows("tpot")))
    requests_seen = _scalar(rows("requests"))
    errors = min(_scalar(rows("errors")), requests_seen)
    # A vLLM older than the HTTP counter (before April 2025) still counts first tokens: without the
    # counter, requests are those, and errors cannot be told.
    side = Side(
        requests=max(requests_seen, ttft.total),
        errors=errors,
        ttft=ttft,
        tpot=tpot,
    )
    return side, asked


def _buckets(rows: list[dict]) -> list[tuple[float, float]]:
    return [(float(row["metric"]["le"]), _finite(row["value"][1])) for row in rows]


def _scalar(rows: list[dict]) -> int:
    return round(sum(_finite(row["value"][1]) for row in rows))


def _finite(text: str) -> float:
    value = float(text)
    return value if math.isfinite(value) else 0.0
