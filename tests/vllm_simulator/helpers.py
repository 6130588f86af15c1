"""HTTP and metrics helpers for the simulator's tests (a plain client, no Django)."""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from prometheus_client.parser import text_string_to_metric_families

from scaling.vllm_simulator import VllmSimulator

FAST = {"ttft_ms": 5, "itl_ms": 1}
MODEL = "meta-llama/Llama-3.1-8B-Instruct"
REPO_ROOT = Path(__file__).resolve().parents[2]

GAUGES = {"vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc"}
COUNTERS = {"vllm:request_success", "vllm:prompt_tokens", "vllm:generation_tokens"}
HISTOGRAMS = {
    "vllm:time_to_first_token_seconds",
    "vllm:inter_token_latency_seconds",
    "vllm:request_time_per_output_token_seconds",
    "vllm:e2e_request_latency_seconds",
    "vllm:request_queue_time_seconds",
    "vllm:request_prompt_tokens",
    "vllm:request_generation_tokens",
}


@dataclass
class Response:
    status: int
    content_type: str | None
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    base_url: str, method: str, path: str, body: Any = None, raw: bytes | None = None
) -> Response:
    address = urlsplit(base_url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    try:
        connection.request(method, path, body=data, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return Response(response.status, response.getheader("Content-Type"), response.read())
    finally:
        connection.close()


def post(sim: VllmSimulator, path: str, body: Any = None, raw: bytes | None = None) -> Response:
    return call(sim.url, "POST", path, body, raw)


def get(sim: VllmSimulator, path: str) -> Response:
    return call(sim.url, "GET", path)


def families(sim: VllmSimulator) -> dict:
    text = get(sim, "/metrics").body.decode()
    return {family.name: family for family in text_string_to_metric_families(text)}


def metric(sim: VllmSimulator, sample_name: str, **labels: str) -> float:
    """Sum of the samples named `sample_name` whose labels include `labels`."""
    return sum(
        sample.value
        for family in families(sim).values()
        for sample in family.samples
        if sample.name == sample_name and labels.items() <= sample.labels.items()
    )


def sse_events(body: bytes) -> list[str]:
    return [event.removeprefix("data: ") for event in body.decode().split("\n\n") if event]


def wait_for(condition, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)
