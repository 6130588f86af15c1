"""Request traces: Azure LLM inference CSVs, and Poisson arrivals from a request-rate series."""

from __future__ import annotations

import csv
import itertools
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")


class Request(NamedTuple):
    arrival_s: float
    prompt_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class Trace:
    """Requests sorted by arrival, seconds from `start` (wall clock, for schedule floors)."""

    requests: list[Request]
    start: datetime

    @property
    def duration_s(self) -> float:
        return self.requests[-1].arrival_s if self.requests else 0.0


def _parse_timestamp(text: str) -> datetime:
    # Azure writes 7 fractional digits; datetime takes at most 6.
    head, _, frac = text.strip().partition(".")
    stamp = datetime.strptime(head, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    if frac:
        stamp = stamp.replace(microsecond=int((frac + "000000")[:6]))
    return stamp


def load_azure_csv(
    path: str | Path, *, rate_scale: float = 1.0, overlay: int = 1, overlay_shift_s: float = 0.0
) -> Trace:
    """Read a trace file; see `parse_azure_csv`."""
    with open(path, newline="") as handle:
        try:
            return parse_azure_csv(
                handle, rate_scale=rate_scale, overlay=overlay, overlay_shift_s=overlay_shift_s
            )
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from exc


def parse_azure_csv(
    lines: Iterable[str],
    *,
    rate_scale: float = 1.0,
    overlay: int = 1,
    overlay_shift_s: float = 0.0,
    max_requests: int | None = None,
) -> Trace:
    """Read TIMESTAMP, ContextTokens, GeneratedTokens rows.

    `rate_scale` N compresses time by N (N times the arrival rate, same request mix, 1/N the
    duration). `overlay` K adds K-1 copies shifted by k * `overlay_shift_s` seconds (after
    compression): K times the load over about the same span, with bursts stacked.
    """
    if rate_scale <= 0:
        raise ValueError("rate_scale must be positive")
    if overlay < 1:
        raise ValueError("overlay must be at least 1")
    rows: list[tuple[datetime, int, int]] = []
    reader = csv.DictReader(lines)
    missing = set(COLUMNS) - set(reader.fieldnames or ())
    if missing:
        raise ValueError(f"missing column(s) {', '.join(sorted(missing))}")
    for row in reader:
        try:
            rows.append(
                (
                    _parse_timestamp(row["TIMESTAMP"]),
                    int(row["ContextTokens"]),
                    int(row["GeneratedTokens"]),
                )
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(f"line {reader.line_num}: {exc}") from None
        if max_requests is not None and len(rows) * overlay > max_requests:
            raise ValueError(f"more than {max_requests} requests")
    if not rows:
        raise ValueError("no requests")
    rows.sort(key=lambda r: r[0])
    start = rows[0][0]
    base = [
        Request((stamp - start).total_seconds() / rate_scale, prompt, output)
        for stamp, prompt, output in rows
    ]
    requests = [
        Request(r.arrival_s + k * overlay_shift_s, r.prompt_tokens, r.output_tokens)
        for k in range(overlay)
        for r in base
    ]
    requests.sort()
    return Trace(requests, start)


def poisson_trace(
    rate_points: Sequence[tuple[float, float]],
    prompt_tokens: Sequence[int],
    output_tokens: Sequence[int],
    *,
    seed: int = 0,
    start: datetime | None = None,
    paired: bool | None = None,
    steps: bool = False,
) -> Trace:
    """Poisson arrivals following a request-rate series, e.g. a Prometheus range query.

    The rate is linear between consecutive (t_seconds, requests_per_second) points, or with
    `steps` held at each point's value until the next one (the shape of per-interval means, whose
    totals linear interpolation would halve around an isolated burst); the series ends at the
    last point. Arrivals come from thinning (Lewis-Shedler): candidates at
    the segment's peak rate, kept with probability rate(t) / peak. Token counts are drawn
    from the given samples; `paired` draws prompt and output tokens by the same index, which keeps
    their correlation, and defaults to whether both samples have the same length.
    """
    points = sorted(rate_points)
    if len(points) < 2:
        raise ValueError("a rate series needs at least two points")
    if any(rate < 0 for _, rate in points):
        raise ValueError("rates must be non-negative")
    if not prompt_tokens or not output_tokens:
        raise ValueError("token samples must not be empty")
    rng = random.Random(seed)
    if paired is None:
        paired = len(prompt_tokens) == len(output_tokens)
    elif paired and len(prompt_tokens) != len(output_tokens):
        raise ValueError("paired token samples must have the same length")
    requests: list[Request] = []
    for (t0, r0), (t1, r1) in itertools.pairwise(points):
        if steps:
            r1 = r0
        peak = max(r0, r1)
        if peak <= 0 or t1 <= t0:
            continue
        t = t0
        while True:
            t += rng.expovariate(peak)
            if t >= t1:
                break
            rate = r0 + (r1 - r0) * (t - t0) / (t1 - t0)
            if rng.random() * peak > rate:
                continue
            i = rng.randrange(len(prompt_tokens))
            j = i if paired else rng.randrange(len(output_tokens))
            requests.append(Request(t, int(prompt_tokens[i]), int(output_tokens[j])))
    return Trace(requests, start or datetime(2024, 1, 1, tzinfo=UTC))


def thinned(trace: Trace, keep: float, seed: int) -> Trace:
    """Each request kept with probability `keep`: the same shape at a lower rate, e.g. a trace
    sized for a fast replica replayed on a slower one. The seed draws which requests stay."""
    if not 0 < keep <= 1:
        raise ValueError(f"keep must be in (0, 1], not {keep}")
    if keep == 1:
        return trace
    rng = random.Random(seed)
    return Trace([r for r in trace.requests if rng.random() < keep], trace.start)


def peak_rate(trace: Trace, window_s: float = 60.0) -> float:
    """Highest mean arrival rate (requests/s) over aligned windows of `window_s`."""
    counts: dict[int, int] = {}
    for r in trace.requests:
        key = math.floor(r.arrival_s / window_s)
        counts[key] = counts.get(key, 0) + 1
    return max(counts.values(), default=0) / window_s
