"""Every PromQL query of the project, built from vLLM's metric names and our target labels.

Series are selected by the `namespace` and `revision` labels: the PodMonitor of each revision
copies the pod's `llm-control-plane/revision` label into `revision`, and the Prometheus operator
sets `namespace` from the scraped pod's namespace. vLLM has renamed some metrics across releases;
`Metric.former` lists the old names so one query serves a fleet that runs both.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    name: str
    former: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.former)


# https://docs.vllm.ai/en/latest/design/metrics.html
REQUESTS_WAITING = Metric("vllm:num_requests_waiting")
REQUESTS_RUNNING = Metric("vllm:num_requests_running")
KV_CACHE_USAGE = Metric("vllm:kv_cache_usage_perc", former=("vllm:gpu_cache_usage_perc",))
TIME_TO_FIRST_TOKEN = Metric("vllm:time_to_first_token_seconds")
INTER_TOKEN_LATENCY = Metric(
    "vllm:inter_token_latency_seconds", former=("vllm:time_per_output_token_seconds",)
)
REQUEST_TIME_PER_OUTPUT_TOKEN = Metric("vllm:request_time_per_output_token_seconds")
E2E_REQUEST_LATENCY = Metric("vllm:e2e_request_latency_seconds")
REQUEST_QUEUE_TIME = Metric("vllm:request_queue_time_seconds")
REQUEST_SUCCESS = Metric("vllm:request_success_total")
PROMPT_TOKENS = Metric("vllm:prompt_tokens_total")
GENERATION_TOKENS = Metric("vllm:generation_tokens_total")
# Responses of vLLM's OpenAI server by route and status class ("2xx", "4xx", "5xx"), from
# prometheus-fastapi-instrumentator (vllm-project/vllm PRs #15657 and #15894, April 2025).
HTTP_REQUESTS = Metric("http_requests_total")
COMPLETION_HANDLERS = "/v1/completions|/v1/chat/completions"
# Histograms of tokens per finished request (vLLM v0 and v1 alike).
REQUEST_PROMPT_TOKENS = Metric("vllm:request_prompt_tokens")
REQUEST_GENERATION_TOKENS = Metric("vllm:request_generation_tokens")

# Window of the TTFT p95 trigger. The autoscaling simulator models the same one-minute window
# (scaling/simulator/engine.py); with the PodMonitor's 15 s scrape interval it holds four samples,
# the fewest for which `rate` is reliable.
TTFT_WINDOW = "1m"
# Window of the prompt-token rate trigger: the shortest that holds four 15 s scrapes, as for TTFT;
# the simulator rates prefilled prompt tokens over the same minute.
PROMPT_RATE_WINDOW = "1m"


@dataclass(frozen=True)
class Target:
    """The series of one revision."""

    namespace: str
    revision: str

    @property
    def matchers(self) -> str:
        return _matchers(namespace=self.namespace, revision=self.revision)


@dataclass(frozen=True)
class EndpointTarget:
    """The series of every revision of one endpoint (the PodMonitor copies `endpoint` too)."""

    namespace: str
    endpoint: str

    @property
    def matchers(self) -> str:
        return _matchers(namespace=self.namespace, endpoint=self.endpoint)


def _matchers(**labels: str) -> str:
    return ",".join(f'{name}="{_escape(value)}"' for name, value in labels.items())


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def gauge(metric: Metric, target: Target | EndpointTarget) -> str:
    """The metric's series of `target`, preferring the current name where both exist.

    `or` keeps the left-hand series and adds right-hand ones only for label sets the left lacks
    (the metric name does not take part in the match), so a release that exports both names
    during its deprecation period is not counted twice.
    """
    return " or ".join(f"{name}{{{target.matchers}}}" for name in metric.names)


def bucket_rate(metric: Metric, target: Target | EndpointTarget, window: str) -> str:
    """Per-second rate of a histogram's buckets; `rate` drops the metric name, so `or` between
    the current and the former name keeps one series per bucket."""
    return " or ".join(
        f"rate({name}_bucket{{{target.matchers}}}[{window}])" for name in metric.names
    )


def histogram_quantile(
    q: float, metric: Metric, target: Target | EndpointTarget, window: str
) -> str:
    """The q-quantile over all pods of `target` during `window`; no series when nothing was
    observed, because the quantile of all-zero bucket rates is NaN and `>= 0` filters NaN out."""
    return f"histogram_quantile({q}, sum by (le) ({bucket_rate(metric, target, window)})) >= 0"


def replicas_reporting(target: Target | EndpointTarget) -> str:
    """Pods of `target` that Prometheus scraped: the replicas serving (a pod still loading its
    model exports nothing yet)."""
    return f"count({gauge(REQUESTS_RUNNING, target)}) or vector(0)"


def queue_total(target: Target | EndpointTarget) -> str:
    """Requests waiting over all ready pods of `target`, for KEDA's queue trigger.

    The query returns the sum; the trigger's `metricType: AverageValue` makes the HPA divide it by
    the replica count (desired = ceil(sum / threshold),
    https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#algorithm-details
    and https://keda.sh/docs/latest/reference/scaledobject-spec/#triggers).

    An empty result is 0 on purpose: with no ready pod (scaled to zero, or all starting) no series
    exists, and nothing waits at a replica that does not exist. KEDA would read an empty result as
    0 anyway (`ignoreNullValues` defaults to true,
    https://keda.sh/docs/latest/scalers/prometheus/), but `or vector(0)` states it in the query,
    so a person running it by hand sees the same number KEDA uses. An unreachable Prometheus is an
    error, not an empty result, and is covered by the ScaledObject's `fallback`.
    """
    return f"sum({gauge(REQUESTS_WAITING, target)}) or vector(0)"


def in_flight_total(target: Target) -> str:
    """Requests running or waiting over all ready pods of `target`, for KEDA's in-flight
    trigger (AverageValue divides it by the replica count, as for the queue).

    Each `sum` is empty when no pod exports the gauge, and so is their sum; `or vector(0)`
    makes that 0, for the reason given in `queue_total`.
    """
    running = gauge(REQUESTS_RUNNING, target)
    waiting = gauge(REQUESTS_WAITING, target)
    return f"(sum({running}) + sum({waiting})) or vector(0)"


def kv_cache_usage_total(target: Target) -> str:
    """KV-cache usage (0-1 per pod) summed over the ready pods of `target`, for KEDA's KV
    trigger; AverageValue divides it by the replica count, as for the queue. Both metric names
    (`gauge`); an empty result is 0 for the reason given in `queue_total`."""
    return f"sum({gauge(KV_CACHE_USAGE, target)}) or vector(0)"


def prompt_tokens_rate_total(target: Target) -> str:
    """Prompt tokens prefilled per second over `PROMPT_RATE_WINDOW`, summed over the pods of
    `target`, for KEDA's prompt-token trigger; AverageValue divides it by the replica count.
    `rate` handles the counter resets of restarted pods; an empty result is 0 for the reason
    given in `queue_total`."""
    return (
        f"sum(rate({PROMPT_TOKENS.name}{{{target.matchers}}}[{PROMPT_RATE_WINDOW}])) or vector(0)"
    )


def ttft_p95(target: Target | EndpointTarget) -> str:
    """TTFT p95 in seconds over `TTFT_WINDOW`, for KEDA's optional latency trigger.

    Without requests in the window there is no latency pressure: the result is 0 (see
    `histogram_quantile` for the NaN it replaces), the trigger is inactive and proposes no
    replicas, as the simulator's autoscaler does when it has no TTFT sample.
    """
    return f"({histogram_quantile(0.95, TIME_TO_FIRST_TOKEN, target, TTFT_WINDOW)}) or vector(0)"


def request_rate(target: Target | EndpointTarget, window: str) -> str:
    """Finished requests per second over `window`, summed over the target's pods.

    vLLM counts a request when it finishes, so this is the arrival rate delayed by one request
    latency (seconds, against windows of a minute or more). `rate` handles counter resets from
    pod restarts. An endpoint at zero replicas has no series; `or vector(0)` turns that into an
    explicit 0 so a range query has a point for every step.
    """
    return f"sum(rate({REQUEST_SUCCESS.name}{{{target.matchers}}}[{window}])) or vector(0)"


def bucket_increase(metric: Metric, target: Target | EndpointTarget, window: str) -> str:
    """Observations per bucket `le` of a histogram during `window`, over all pods of `target`:
    the distribution of, e.g., prompt tokens per request over a whole range, in one instant
    query at its end."""
    return f"sum by (le) (increase({metric.name}_bucket{{{target.matchers}}}[{window}]))"


def responses(target: Target, window: str, *, status: str | None = None) -> str:
    """Responses of the completion routes during `window` (all, or one status class such as
    "5xx"), summed over the target's pods; empty when no pod exported the counter."""
    matchers = f'{target.matchers},handler=~"{COMPLETION_HANDLERS}"'
    if status is not None:
        matchers += f',status="{_escape(status)}"'
    return f"sum(increase({HTTP_REQUESTS.name}{{{matchers}}}[{window}]))"
