"""The outcome of one simulation: summary figures, a time series for plots, and their views."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from scaling.simulator.autoscaler import Sync


@dataclass(frozen=True)
class TimeSeries:
    """Per-bin values; `t_s` is each bin's start in seconds from the trace start."""

    bin_s: float
    t_s: list[float]
    arrivals_per_s: list[float]
    replicas: list[int]  # provisioned (starting + ready) at the end of the bin
    ready: list[int]
    queued: list[int]  # last sampled: vLLM waiting over all replicas + held by the interceptor
    ttft_p95_ms: list[float | None]  # over requests arriving in the bin that got a first token


@dataclass(frozen=True)
class SimResult:
    requests: int
    served: int
    dropped: int
    gpu_hours: float
    slo_ttft_ms: float
    slo_attainment: float  # share of all requests (dropped ones count as misses)
    # Requests an idle replica could answer within the SLO (prefill short enough, within the
    # model's length), and the share of those that were: the goal's "among those the model can
    # serve at all".
    servable: int
    slo_attainment_servable: float
    ttft_p50_ms: float
    ttft_p95_ms: float
    ttft_p99_ms: float
    cold_starts: int
    cold_start_waiters: int
    peak_queue: int
    peak_replicas: int
    duration_s: float
    series: TimeSeries = field(repr=False)
    # HPA syncs with each trigger's proposal (simulation time, the warm-up's included), when
    # `SimConfig.record_syncs` asked for them.
    syncs: list[Sync] = field(default_factory=list, repr=False)

    def summary(self) -> dict[str, float | int]:
        return {
            "gpu_hours": round(self.gpu_hours, 4),
            "slo_ttft_ms": self.slo_ttft_ms,
            "slo_attainment": round(self.slo_attainment, 5),
            "servable": self.servable,
            "slo_attainment_servable": round(self.slo_attainment_servable, 5),
            "ttft_p50_ms": round(self.ttft_p50_ms, 1),
            "ttft_p95_ms": round(self.ttft_p95_ms, 1),
            "ttft_p99_ms": round(self.ttft_p99_ms, 1),
            "cold_starts": self.cold_starts,
            "cold_start_waiters": self.cold_start_waiters,
            "requests": self.requests,
            "served": self.served,
            "dropped": self.dropped,
            "peak_queue": self.peak_queue,
            "peak_replicas": self.peak_replicas,
            "duration_s": round(self.duration_s, 1),
        }


def percentile_ms(ttft_s: np.ndarray, q: float) -> float:
    """TTFT percentile in ms over served requests; NaN when none was served."""
    if ttft_s.size == 0:
        return float("nan")
    return float(np.percentile(ttft_s, q) * 1000)


def format_table(rows: list[dict[str, object]], columns: list[str]) -> str:
    """A plain fixed-width table for terminals."""
    cells = [[_cell(row.get(c, "")) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.0f}"
    return str(value)
