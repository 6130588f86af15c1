"""The simulator's Prometheus metrics, named, typed and bucketed as vLLM's.

Source: `PrometheusStatLogger` in vllm-project/vllm `vllm/v1/metrics/loggers.py` (0.11/0.12
era, where `vllm:inter_token_latency_seconds` replaced `vllm:time_per_output_token_seconds` and
`vllm:kv_cache_usage_perc` replaced `vllm:gpu_cache_usage_perc`). Like vLLM v1 every series
carries `model_name` and `engine` (always "0": one engine core per simulated server), and every
labelled child is created up front so that each series exists, at zero, from the first scrape.

Beside them, `http_requests_total{method, status, handler}`: vLLM's API server gets it from
prometheus-fastapi-instrumentator (vllm-project/vllm PRs #15657 and #15894), which adds no
`model_name` or `engine` label and groups statuses into "2xx", "4xx", "5xx".
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics_core import Metric

# Llama-3.1's context length; sets the token-count buckets as vLLM's max_model_len does.
MAX_MODEL_LEN = 131072
# Nominal KV-cache size in tokens (roughly an 8B model on one 80 GB GPU).
KV_CAPACITY_TOKENS = 440_000

# vLLM's `FinishReason` values (vllm/v1/engine/__init__.py); vLLM creates one child of
# `vllm:request_success` per reason.
FINISH_REASONS = ("stop", "length", "abort")

TTFT_BUCKETS = (
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75,
    1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0,
)  # fmt: skip
TOKEN_LATENCY_BUCKETS = (
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75,
    1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0,
)  # fmt: skip
REQUEST_LATENCY_BUCKETS = (
    0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0,
    40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0,
)  # fmt: skip

LABELS = ("model_name", "engine")
# The instrumentator's default counter: its name, help text and labels.
HTTP_LABELS = ("method", "status", "handler")
COMPLETION_HANDLERS = ("/v1/completions", "/v1/chat/completions")
STATUS_GROUPS = ("2xx", "4xx", "5xx")
ENGINE = "0"


def build_1_2_5_buckets(max_value: int) -> list[int]:
    """1, 2, 5, 10, 20, 50, ... up to max_value, as vLLM's helper of the same name."""
    buckets: list[int] = []
    scale = 1
    while True:
        for mantissa in (1, 2, 5):
            if mantissa * scale > max_value:
                return buckets
            buckets.append(mantissa * scale)
        scale *= 10


class _RegistryWithoutCreated(CollectorRegistry):
    """Drops the `*_created` samples prometheus_client adds to counters and histograms.

    `prometheus_client.disable_created_metrics()` would do the same for the whole process;
    this keeps the choice local to the simulator's own registries.
    """

    def collect(self) -> Iterable[Metric]:
        for family in super().collect():
            family.samples = [s for s in family.samples if not s.name.endswith("_created")]
            yield family


class SimulatorMetrics:
    """One registry of vLLM metrics for one simulated server and model."""

    def __init__(self, model_name: str, legacy_names: bool = False) -> None:
        self.registry: CollectorRegistry = _RegistryWithoutCreated()
        self.legacy_names = legacy_names
        values = (model_name, ENGINE)

        def gauge(name: str, doc: str) -> Gauge:
            return Gauge(name, doc, LABELS, registry=self.registry).labels(*values)

        def counter(name: str, doc: str) -> Counter:
            # prometheus_client appends `_total`, which gives vLLM's exposed names.
            return Counter(name, doc, LABELS, registry=self.registry).labels(*values)

        def histogram(name: str, doc: str, buckets: Iterable[float]) -> Histogram:
            metric = Histogram(name, doc, LABELS, registry=self.registry, buckets=tuple(buckets))
            return metric.labels(*values)

        self.running = gauge(
            "vllm:num_requests_running", "Number of requests in model execution batches."
        )
        self.waiting = gauge(
            "vllm:num_requests_waiting", "Number of requests waiting to be processed."
        )
        # Renamed in vLLM 0.9 (the old name was removed later).
        kv_name = "vllm:gpu_cache_usage_perc" if legacy_names else "vllm:kv_cache_usage_perc"
        self.kv_cache_usage = gauge(kv_name, "KV-cache usage. 1 means 100 percent usage.")

        success = Counter(
            "vllm:request_success",
            "Count of successfully processed requests.",
            (*LABELS, "finished_reason"),
            registry=self.registry,
        )
        self.success = {reason: success.labels(*values, reason) for reason in FINISH_REASONS}
        self.prompt_tokens = counter("vllm:prompt_tokens", "Number of prefill tokens processed.")
        self.generation_tokens = counter(
            "vllm:generation_tokens", "Number of generation tokens processed."
        )

        token_buckets = build_1_2_5_buckets(MAX_MODEL_LEN)
        self.request_prompt_tokens = histogram(
            "vllm:request_prompt_tokens", "Number of prefill tokens processed.", token_buckets
        )
        self.request_generation_tokens = histogram(
            "vllm:request_generation_tokens",
            "Number of generation tokens processed.",
            token_buckets,
        )
        self.time_to_first_token = histogram(
            "vllm:time_to_first_token_seconds",
            "Histogram of time to first token in seconds.",
            TTFT_BUCKETS,
        )
        # Renamed in vLLM 0.11; the buckets did not change.
        itl_name = (
            "vllm:time_per_output_token_seconds"
            if legacy_names
            else "vllm:inter_token_latency_seconds"
        )
        self.inter_token_latency = histogram(
            itl_name, "Histogram of inter-token latency in seconds.", TOKEN_LATENCY_BUCKETS
        )
        self.request_time_per_output_token = histogram(
            "vllm:request_time_per_output_token_seconds",
            "Histogram of time_per_output_token_seconds per request.",
            TOKEN_LATENCY_BUCKETS,
        )
        self.e2e_request_latency = histogram(
            "vllm:e2e_request_latency_seconds",
            "Histogram of e2e request latency in seconds.",
            REQUEST_LATENCY_BUCKETS,
        )
        self.request_queue_time = histogram(
            "vllm:request_queue_time_seconds",
            "Histogram of time spent in WAITING phase for request.",
            REQUEST_LATENCY_BUCKETS,
        )

        self.http_requests = Counter(
            "http_requests",
            "Total number of requests by method, status and handler.",
            HTTP_LABELS,
            registry=self.registry,
        )
        # The instrumentator creates a child on a route's first response; created here up front
        # so that an error ratio over the completion routes has its series from the first scrape.
        for handler in COMPLETION_HANDLERS:
            for status in STATUS_GROUPS:
                self.http_requests.labels("POST", status, handler)

    def count_http_response(self, method: str, status: int, handler: str) -> None:
        self.http_requests.labels(method, f"{status // 100}xx", handler).inc()

    def set_scheduler_state(self, running: int, waiting: int, kv_tokens: int) -> None:
        self.running.set(running)
        self.waiting.set(waiting)
        self.kv_cache_usage.set(min(1.0, kv_tokens / KV_CAPACITY_TOKENS))
