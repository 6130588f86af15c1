"""Reads from Prometheus, through `prometheus-api-client`; every query comes from `scaling.promql`.

Prometheus is optional: without `PROMETHEUS_URL`, or when it does not answer, callers get
`TelemetryUnavailable` and say so (the console shows the reason, analysis is inconclusive).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from django.conf import settings
from prometheus_api_client import PrometheusApiClientException, PrometheusConnect

from scaling import promql
from scaling.simulator.trace import Trace, poisson_trace

# Prometheus refuses range queries of more than 11,000 points per series
# (https://prometheus.io/docs/prometheus/latest/querying/api/#range-queries).
MAX_POINTS = 11_000
# Token samples drawn from a histogram: enough quantiles that the buckets' shape survives.
TOKEN_SAMPLES = 512


class TelemetryUnavailable(Exception):
    """No Prometheus is configured, or it did not answer."""


class NoRequestsObserved(Exception):
    """Prometheus answered, but no request finished in the window."""


@dataclass(frozen=True)
class RequestHistory:
    """What an endpoint served over a window: its request rate and its requests' token sizes."""

    start: datetime
    end: datetime
    step_s: int
    # (seconds since `start`, finished requests per second from then until the next point)
    rates: list[tuple[float, float]]
    prompt_tokens: list[int]
    output_tokens: list[int]
    observed_requests: int

    @property
    def expected_requests(self) -> float:
        """Arrivals the replay draws on average: each rate times the span it holds for."""
        return sum(rate * (t1 - t0) for (t0, rate), (t1, _) in itertools.pairwise(self.rates))

    def to_trace(self, *, seed: int = 0) -> Trace:
        """Poisson arrivals that follow the rate series, with token sizes drawn from the
        histograms. Prompt and output sizes are drawn independently: Prometheus keeps their
        distributions, not which prompt came with which answer."""
        return poisson_trace(
            self.rates,
            self.prompt_tokens,
            self.output_tokens,
            seed=seed,
            start=self.start,
            paired=False,
            steps=True,
        )


def client() -> PrometheusConnect:
    url = settings.PROMETHEUS_URL
    if not url:
        raise TelemetryUnavailable("no Prometheus is configured (PROMETHEUS_URL is empty)")
    return PrometheusConnect(url=url, timeout=settings.PROMETHEUS_TIMEOUT_SECONDS)


def request_history(
    target: promql.EndpointTarget,
    *,
    start: datetime,
    end: datetime,
    step_s: int = 60,
    prometheus: PrometheusConnect | None = None,
) -> RequestHistory:
    """The request rate of `target` from `start` to `end`, one point per `step_s` (raised when
    the window would need more points than Prometheus returns), and its token histograms."""
    if end <= start:
        raise ValueError("the window must end after it starts")
    if step_s < 1:
        raise ValueError("the step must be at least one second")
    window_s = math.ceil((end - start).total_seconds())
    step_s = max(step_s, math.ceil(window_s / MAX_POINTS))
    steps = window_s // step_s
    if steps < 2:
        raise ValueError(f"a window of {window_s} s holds fewer than two steps of {step_s} s")
    prometheus = prometheus or client()
    # One point per step, the last at `end`: each is the mean rate over the step before it, so
    # the series handed to the simulator holds that rate from the step's start to its end.
    rate_rows = ask(
        prometheus.custom_query_range,
        promql.request_rate(target, f"{step_s}s"),
        start_time=end - timedelta(seconds=step_s * (steps - 1)),
        end_time=end,
        step=str(step_s),
    )
    origin = start.timestamp() + step_s
    rates = sorted(
        (float(stamp) - origin, _finite(value))
        for row in rate_rows
        for stamp, value in row["values"]
    )
    rates.append((float(window_s), 0.0))  # where the last step ends
    prompt = _bucket_counts(prometheus, promql.REQUEST_PROMPT_TOKENS, target, window_s, end)
    output = _bucket_counts(prometheus, promql.REQUEST_GENERATION_TOKENS, target, window_s, end)
    observed = round(prompt[-1][1]) if prompt else 0
    if observed == 0 or not output or len(rates) < 2:
        raise NoRequestsObserved(
            f"no request of {target.endpoint} in {target.namespace} finished between "
            f"{start.isoformat()} and {end.isoformat()}"
        )
    return RequestHistory(
        start=start,
        end=end,
        step_s=step_s,
        rates=rates,
        prompt_tokens=token_samples(prompt),
        output_tokens=token_samples(output),
        observed_requests=observed,
    )


def token_samples(buckets: Sequence[tuple[float, float]], n: int = TOKEN_SAMPLES) -> list[int]:
    """`n` token counts at evenly spaced quantiles of a cumulative histogram.

    `buckets` are (upper bound `le`, cumulative count) sorted by bound, ending with +Inf.
    Within a bucket the quantile is interpolated linearly, and the +Inf bucket takes the highest
    finite bound, as PromQL's `histogram_quantile` does.
    """
    total = buckets[-1][1] if buckets else 0.0
    if total <= 0:
        raise ValueError("the histogram holds no observations")
    samples = []
    for i in range(n):
        rank = (i + 0.5) / n * total
        lower, below = 0.0, 0.0
        for bound, cumulative in buckets:
            if cumulative >= rank:
                if math.isinf(bound):
                    value = lower
                else:
                    inside = cumulative - below
                    value = lower + (bound - lower) * ((rank - below) / inside if inside else 1.0)
                break
            if not math.isinf(bound):
                lower = bound
            below = cumulative
        samples.append(max(1, round(value)))
    return samples


def _bucket_counts(
    prometheus: PrometheusConnect,
    metric: promql.Metric,
    target: promql.EndpointTarget,
    window_s: int,
    end: datetime,
) -> list[tuple[float, float]]:
    rows = ask(
        prometheus.custom_query,
        promql.bucket_increase(metric, target, f"{window_s}s"),
        params={"time": end.timestamp()},
    )
    counts = sorted((float(row["metric"]["le"]), _finite(row["value"][1])) for row in rows)
    # `increase` extrapolates each bucket on its own, which can leave a higher bucket a hair
    # below a lower one; a cumulative histogram never decreases.
    monotone, highest = [], 0.0
    for bound, count in counts:
        highest = max(highest, count)
        monotone.append((bound, highest))
    return monotone


def ask(call: Callable[..., list[dict]], query: str, **kwargs: object) -> list[dict]:
    try:
        return call(query, **kwargs)
    except (requests.RequestException, PrometheusApiClientException) as exc:
        raise TelemetryUnavailable(f"Prometheus did not answer: {exc}") from exc


def _finite(text: str) -> float:
    value = float(text)
    return value if math.isfinite(value) else 0.0


# What the console charts for an endpoint: (title, unit, query), over all its revisions.
LIVE_SERIES = (
    ("TTFT p95", "s", promql.ttft_p95),
    ("Requests waiting", "", promql.queue_total),
    ("Replicas reporting", "", promql.replicas_reporting),
    ("Requests per second", "/s", lambda target: promql.request_rate(target, "1m")),
)


@dataclass(frozen=True)
class Series:
    title: str
    unit: str
    query: str
    points: list[tuple[float, float]]  # (seconds since the window's start, value)


def live_series(
    target: promql.EndpointTarget,
    *,
    end: datetime,
    minutes: int = 30,
    step_s: int = 30,
    prometheus: PrometheusConnect | None = None,
) -> list[Series]:
    """The endpoint's recent TTFT p95, queue, replicas and request rate, one point per step."""
    prometheus = prometheus or client()
    start = end - timedelta(minutes=minutes)
    series = []
    for title, unit, build in LIVE_SERIES:
        query = build(target)
        rows = ask(
            prometheus.custom_query_range,
            query,
            start_time=start,
            end_time=end,
            step=str(step_s),
        )
        points = sorted(
            (float(stamp) - start.timestamp(), _finite(value))
            for row in rows
            for stamp, value in row["values"]
        )
        series.append(Series(title, unit, query, points))
    return series
