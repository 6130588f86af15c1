"""Cumulative histograms as Prometheus keeps them: (upper bound `le`, observations at or below).

Counts come from `increase` over a window, which extrapolates each bucket separately and returns
floats; `Histogram.of` rounds them and makes them monotone so that the tests downstream see whole
requests.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Histogram:
    # (upper bound, cumulative count), sorted by bound, the last bound +Inf.
    buckets: tuple[tuple[float, int], ...]

    @classmethod
    def of(cls, pairs: Iterable[tuple[float, float]]) -> Histogram:
        highest, buckets = 0, []
        for bound, count in sorted(pairs):
            highest = max(highest, round(count) if math.isfinite(count) else 0)
            buckets.append((float(bound), highest))
        if buckets and not math.isinf(buckets[-1][0]):
            buckets.append((math.inf, highest))
        return cls(tuple(buckets))

    @classmethod
    def empty(cls) -> Histogram:
        return cls(((math.inf, 0),))

    @property
    def total(self) -> int:
        return self.buckets[-1][1] if self.buckets else 0

    @property
    def bounds(self) -> tuple[float, ...]:
        return tuple(bound for bound, _ in self.buckets if not math.isinf(bound))

    def at_or_below(self, bound: float) -> int:
        """Observations at or below the largest bucket bound not above `bound`."""
        count = 0
        for le, cumulative in self.buckets:
            if le > bound:
                break
            count = cumulative
        return count

    def above(self, bound: float) -> int:
        return self.total - self.at_or_below(bound)

    def slo_bound(self, seconds: float) -> float:
        """The smallest bucket bound at or above an SLO: what can be counted exactly. Requests
        between the SLO and that bound count as within it, so a check never fails on an
        interpolation (SLOs on bucket bounds are counted exactly)."""
        for bound in self.bounds:
            if bound >= seconds - 1e-12:
                return bound
        return math.inf

    def quantile(self, q: float) -> float | None:
        """As PromQL's `histogram_quantile`: linear within the bucket, the highest finite bound
        for ranks in +Inf; None without observations."""
        total = self.total
        if total <= 0:
            return None
        rank = q * total
        lower, below = 0.0, 0
        for bound, cumulative in self.buckets:
            if cumulative >= rank:
                if math.isinf(bound):
                    return lower
                inside = cumulative - below
                return lower + (bound - lower) * ((rank - below) / inside if inside else 1.0)
            lower, below = bound, cumulative
        return lower

    def __add__(self, other: Histogram) -> Histogram:
        if other.total == 0:
            return self
        if self.total == 0:
            return other
        if self.bounds != other.bounds:
            raise ValueError("histograms with different buckets cannot be added")
        return Histogram(
            tuple((b, a + c) for (b, a), (_, c) in zip(self.buckets, other.buckets, strict=True))
        )


def median_split(*histograms: Histogram) -> float | None:
    """The finite bucket bound that splits the pooled observations closest to half and half,
    or None when no bound splits them at all (every observation in one bucket)."""
    pooled = Histogram.empty()
    for histogram in histograms:
        pooled = pooled + histogram
    total = pooled.total
    best, best_distance = None, math.inf
    for bound, cumulative in pooled.buckets:
        if math.isinf(bound) or cumulative in (0, total):
            continue
        distance = abs(cumulative / total - 0.5)
        if distance < best_distance:
            best, best_distance = bound, distance
    return best
