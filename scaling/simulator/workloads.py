"""Workload shapes for the autoscaling benchmark: two real traces and two synthesized ones.

- chat: the Azure conversation trace (real arrivals and sizes), copies overlaid.
- code: the Azure code trace (bursty, idle minutes, long prompts, short outputs), overlaid.
- docqa: long-context document QA. Arrivals are the Azure conversation trace's (its real
  burstiness), thinned; sizes are drawn anew: prompts log-uniform over 4k-32k tokens (every
  doubling equally likely, median ~11k), outputs uniform over 100-300 tokens. These ranges are
  issue 15's; no published length distribution for document QA is vendored here, so the shape
  within them is an assumption, not a measurement.
- diurnal: 24 hours of Poisson arrivals whose rate follows a cosine day (peak at 14:00 UTC,
  4x the trough at 02:00) with a burst of 2.5x for 3 minutes every 90 minutes, with sizes
  resampled from the code trace. The shape is synthesized, not measured.

Every builder is deterministic for its seed.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from scaling.simulator.trace import Request, Trace, load_azure_csv, poisson_trace

CONV = "AzureLLMInferenceTrace_conv.csv"
CODE = "AzureLLMInferenceTrace_code.csv"
DAY_S = 86_400.0


@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    build: Callable[[Path, int], Trace]  # (traces directory, seed) -> trace


def chat(traces: Path, overlay: int = 12, shift_s: float = 7.0) -> Trace:
    return load_azure_csv(traces / CONV, overlay=overlay, overlay_shift_s=shift_s)


def code(traces: Path, overlay: int = 6, shift_s: float = 7.0) -> Trace:
    return load_azure_csv(traces / CODE, overlay=overlay, overlay_shift_s=shift_s)


def docqa(traces: Path, seed: int = 0, keep: float = 0.5) -> Trace:
    """Conversation arrivals, each kept with probability `keep`, with document-QA sizes."""
    base = load_azure_csv(traces / CONV)
    rng = random.Random(seed)
    # 32,000 leaves room for 300 output tokens in a 32,768-token context.
    low, high = math.log(4096), math.log(32_000)
    requests = [
        Request(r.arrival_s, int(math.exp(rng.uniform(low, high))), rng.randint(100, 300))
        for r in base.requests
        if rng.random() < keep
    ]
    return Trace(requests, base.start)


def diurnal_rate(t_s: float, mean_per_s: float) -> float:
    """Requests/s at `t_s` seconds after midnight UTC."""
    hour = (t_s % DAY_S) / 3600
    rate = mean_per_s * (1 + 0.6 * math.cos(2 * math.pi * (hour - 14) / 24))
    if t_s % 5400 < 180:  # a 3-minute burst every 90 minutes
        rate *= 2.5
    return rate


def diurnal(traces: Path, seed: int = 0, mean_per_s: float = 6.0, step_s: float = 60.0) -> Trace:
    # Code-trace sizes (long prompts): a day at a rate whose peaks need several replicas stays
    # near half a million requests, which a 2-core machine simulates in seconds.
    conv = load_azure_csv(traces / CODE)
    points = [(t, diurnal_rate(t, mean_per_s)) for t in _frange(0.0, DAY_S + step_s, step_s)]
    # Burst edges fall on minute boundaries, so per-step rates held constant keep them sharp.
    return poisson_trace(
        points,
        [r.prompt_tokens for r in conv.requests],
        [r.output_tokens for r in conv.requests],
        seed=seed,
        start=datetime(2024, 1, 1, tzinfo=UTC),
        paired=True,
        steps=True,
    )


def _frange(start: float, stop: float, step: float) -> list[float]:
    return [start + i * step for i in range(int((stop - start) / step))]


WORKLOADS: dict[str, Workload] = {
    "chat": Workload(
        "chat",
        "Azure conversation trace, 12 copies overlaid 7 s apart",
        lambda traces, seed: chat(traces),
    ),
    "code": Workload(
        "code",
        "Azure code trace, 6 copies overlaid 7 s apart",
        lambda traces, seed: code(traces),
    ),
    "docqa": Workload(
        "docqa",
        "conversation arrivals (half kept), prompts log-uniform 4k-32k, outputs 100-300",
        docqa,
    ),
    "diurnal": Workload(
        "diurnal",
        "24 h cosine day (peak 4x trough) with 3-min 2.5x bursts every 90 min, code sizes",
        diurnal,
    ),
}
