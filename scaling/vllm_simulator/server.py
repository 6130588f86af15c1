"""vLLM-compatible simulator: answers like vLLM's OpenAI server, exposes vLLM's metrics, no model.

For tests and demos of the control plane: a real Prometheus scrapes `/metrics`, autoscaling and
canary analysis read the series, and a test can make one instance slower or more error-prone
while it runs (`VllmSimulator.reconfigure` or `POST /sim/config`). Latencies are real sleeps, so
what Prometheus sees is what a client measured. A canary and its stable revision are two
simulators (two `python -m scaling.vllm_simulator` processes, or two instances in one process),
the canary started with, or reconfigured to, a `latency_factor` or `error_rate` of its own.

What it models:
- TTFT = queue wait + (`ttft_ms` x m + prompt tokens / `prefill_tokens_per_s`) x
  `latency_factor`, where m is drawn once per sequence from lognormal(0, `ttft_sigma`) (median
  1; sigma 0 gives m = 1). Then one token every `itl_ms` x `latency_factor` x m', m' drawn once
  per sequence from lognormal(0, `itl_sigma`). The draws come from one RNG seeded by `seed`.
- At most `max_num_seqs` sequences run at once and the rest wait in FIFO order; KV-cache usage
  is the tokens of running sequences over a nominal capacity.
- An injected error (probability `error_rate`) answers 500 once the prefill delay has passed;
  if another sequence of the same streamed batch already started the stream, the error is one
  more event of a 200 response, as in vLLM.
- vLLM's `vllm:*` metrics (see metrics.py) and the API server's `http_requests_total{method,
  status, handler}`: one count per response with the status sent, grouped "2xx"/"4xx"/"5xx",
  handler "none" when no route matches path and method, and /metrics, /health and /sim/config
  not counted.

What it does not model: batching (latencies do not grow with concurrency), chunked prefill,
prefix caching, preemption (KV usage is clamped at 1 instead), tokenisation (a text prompt
counts one token per 4 characters), stop sequences and sampling (every sequence runs to
max_tokens, so `finished_reason` is always "length"), `n`, logprobs, LoRA, tools, IPv6, and the
instrumentator's other HTTP metrics (request and response sizes, request duration histograms).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from scaling.vllm_simulator.config import SimulatorConfig
from scaling.vllm_simulator.engine import Engine
from scaling.vllm_simulator.http_api import Handler, SimulatorHTTPServer
from scaling.vllm_simulator.metrics import SimulatorMetrics


class VllmSimulator:
    """One simulated vLLM server with its own metrics registry."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self._config = config or SimulatorConfig()
        self._config_lock = threading.Lock()
        self.metrics = SimulatorMetrics(self._config.model, self._config.legacy_metric_names)
        self._engine = Engine(lambda: self._config, self.metrics, self._config.seed)
        self.started_at = int(time.time())
        self._server: SimulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._host = ""

    @property
    def config(self) -> SimulatorConfig:
        return self._config

    def reconfigure(self, /, **changes: Any) -> SimulatorConfig:
        """Replaces runtime fields (see RUNTIME_FIELDS); raises ConfigError otherwise."""
        with self._config_lock:
            self._config = self._config.with_runtime_changes(**changes)
            self._engine.scheduler.set_capacity(self._config.max_num_seqs)
            return self._config

    def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Serves in a background thread; returns the bound port."""
        if self._server is not None:
            raise RuntimeError("the simulator is already running")
        server = SimulatorHTTPServer((host, port), Handler)
        server.simulator = self
        self._engine.scheduler.set_open(True)
        self._server, self._host = server, host
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.name = f"vllm-sim-{self.port}"
        self._thread.start()
        return self.port

    def stop(self) -> None:
        if self._server is None:
            return
        self._engine.scheduler.set_open(False)
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the simulator is not running")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self._host in ("", "0.0.0.0") else self._host
        return f"http://{host}:{self.port}"

    def __enter__(self) -> VllmSimulator:
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
