"""The simulator's settings: fixed at start, or changeable while it runs."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

DEFAULT_MODEL = "meta-llama/Llama-3.1-8B-Instruct"
# Fields that `reconfigure` and `POST /sim/config` may change while the server runs.
RUNTIME_FIELDS = (
    "ttft_ms",
    "itl_ms",
    "prefill_tokens_per_s",
    "error_rate",
    "max_num_seqs",
    "latency_factor",
    "ttft_sigma",
    "itl_sigma",
)
# A lognormal multiplier's sigma at most; at 3 one sequence in a thousand is already ~10^4
# times slower than the median, and far larger sigmas overflow `math.exp`.
MAX_SIGMA = 3.0
_FLOAT_FIELDS = (
    "ttft_ms",
    "itl_ms",
    "prefill_tokens_per_s",
    "error_rate",
    "latency_factor",
    "ttft_sigma",
    "itl_sigma",
)


class ConfigError(ValueError):
    """A configuration field is unknown, read-only or out of range."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"`{field}` {message}")
        self.field = field


def _check_number(field: str, value: Any, low: float, high: float, bounds: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(field, f"must be a finite number, not {value!r}")
    if not low <= value <= high:
        raise ConfigError(field, f"must be {bounds}, not {value!r}")


def _check_int(field: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(field, f"must be an integer >= {minimum}, not {value!r}")


@dataclass(frozen=True)
class SimulatorConfig:
    model: str = DEFAULT_MODEL  # the served model name, and the `model_name` label
    ttft_ms: float = 150.0  # fixed part of the time to first token
    itl_ms: float = 10.0  # inter-token latency
    prefill_tokens_per_s: float = 25000.0  # adds prompt_tokens / this to the TTFT
    error_rate: float = 0.0  # probability that a sequence fails with a 500
    max_num_seqs: int = 256  # running sequences at most; the rest wait in FIFO order
    default_max_tokens: int = 16  # when a request gives no max_tokens
    legacy_metric_names: bool = False  # the names before vLLM 0.9 / 0.11 renamed two metrics
    seed: int | None = None  # of the error and latency draws
    # Multiplies the whole TTFT and the inter-token latency: a canary's regression factor.
    latency_factor: float = 1.0
    # Sigma of a per-sequence lognormal multiplier (median 1) of the TTFT's fixed part and of the
    # inter-token latency; 0 keeps both deterministic.
    ttft_sigma: float = 0.0
    itl_sigma: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model:
            raise ConfigError("model", f"must be a non-empty string, not {self.model!r}")
        _check_number("ttft_ms", self.ttft_ms, 0, math.inf, ">= 0")
        _check_number("itl_ms", self.itl_ms, 0, math.inf, ">= 0")
        _check_number("prefill_tokens_per_s", self.prefill_tokens_per_s, 1e-9, math.inf, "> 0")
        _check_number("error_rate", self.error_rate, 0, 1, "between 0 and 1")
        _check_number("latency_factor", self.latency_factor, math.ulp(0.0), math.inf, "> 0")
        for field in ("ttft_sigma", "itl_sigma"):
            _check_number(field, getattr(self, field), 0, MAX_SIGMA, f"between 0 and {MAX_SIGMA:g}")
        for field in _FLOAT_FIELDS:
            # JSON may carry 5 for 5.0; keep the declared type for whoever reads the config.
            object.__setattr__(self, field, float(getattr(self, field)))
        _check_int("max_num_seqs", self.max_num_seqs, 1)
        _check_int("default_max_tokens", self.default_max_tokens, 1)
        if not isinstance(self.legacy_metric_names, bool):
            raise ConfigError("legacy_metric_names", "must be a boolean")
        if self.seed is not None:
            _check_int("seed", self.seed, 0)

    def prefill_seconds(self, prompt_tokens: int, ttft_multiplier: float = 1.0) -> float:
        """The TTFT without the queue wait; `ttft_multiplier` is the sequence's lognormal draw."""
        fixed = self.ttft_ms / 1000 * ttft_multiplier
        return (fixed + prompt_tokens / self.prefill_tokens_per_s) * self.latency_factor

    def itl_seconds(self, itl_multiplier: float = 1.0) -> float:
        return self.itl_ms / 1000 * itl_multiplier * self.latency_factor

    def with_runtime_changes(self, /, **changes: Any) -> SimulatorConfig:
        for field in changes:
            if field not in RUNTIME_FIELDS:
                raise ConfigError(
                    field, f"is unknown or fixed at start; changeable: {', '.join(RUNTIME_FIELDS)}"
                )
        return dataclasses.replace(self, **changes)
