"""A PNG of one simulation: arrivals, replicas and queue, and TTFT p95 over time."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt

from scaling.simulator.oracle import OracleResult
from scaling.simulator.report import SimResult


def plot_result(
    result: SimResult,
    path: str | Path | BinaryIO,
    *,
    title: str = "",
    oracle: OracleResult | None = None,
) -> None:
    s = result.series
    minutes = [t / 60 for t in s.t_s]
    fig, (ax_rate, ax_rep, ax_ttft) = plt.subplots(3, 1, figsize=(9, 6.5), sharex=True, dpi=80)
    ax_rate.plot(minutes, s.arrivals_per_s, lw=0.8, color="tab:blue")
    ax_rate.set_ylabel("arrivals/s")
    ax_rep.step(minutes, s.replicas, where="post", lw=1, color="tab:orange", label="replicas")
    ax_rep.step(minutes, s.ready, where="post", lw=1, color="tab:green", label="ready")
    if oracle is not None:
        edges = [i * oracle.interval_s / 60 for i in range(len(oracle.replicas))]
        ax_rep.step(
            edges, oracle.replicas, where="post", lw=1, ls="--", color="grey", label="oracle"
        )
    ax_rep.set_ylabel("replicas")
    ax_rep.legend(loc="upper right", fontsize=8)
    ax_queue = ax_rep.twinx()
    ax_queue.plot(minutes, s.queued, lw=0.6, color="tab:red", alpha=0.5)
    ax_queue.set_ylabel("queued", color="tab:red")
    ttft = [v / 1000 if v is not None else float("nan") for v in s.ttft_p95_ms]
    ax_ttft.plot(minutes, ttft, lw=0.8, color="tab:purple")
    ax_ttft.axhline(result.slo_ttft_ms / 1000, color="black", ls=":", lw=0.8)
    ax_ttft.set_yscale("log")
    ax_ttft.set_ylabel("TTFT p95 (s)")
    ax_ttft.set_xlabel("minutes")
    fig.suptitle(
        f"{title}  GPU-h {result.gpu_hours:.2f}  SLO {result.slo_attainment:.1%}  "
        f"p99 {result.ttft_p99_ms / 1000:.1f} s  cold starts {result.cold_starts}",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
