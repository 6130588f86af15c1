"""Anytime-valid sequential tests: e-processes whose false-alarm rate holds however often they
are looked at (docs/decisions/0009-canary-analysis.md).

An e-process here is a product of likelihood ratios, one factor per analysis window, each with
expectation at most 1 when the null hypothesis holds. Ville's inequality then bounds the chance
that the product *ever* reaches 1/α by α (Ramdas, Grünwald, Vovk, Shafer, "Game-theoretic
statistics and safe anytime-valid inference", Statistical Science 2023). To keep power against
alternatives of unknown size, each test mixes a few alternatives with equal weights; a mixture of
e-processes is an e-process (Robbins 1970; Howard et al., "Time-uniform, nonparametric,
nonasymptotic confidence sequences", Annals of Statistics 2021).

Two factors:
- `odds_ratio_log_lr`: canary against stable in one window, conditioned on the window's margins
  (requests per side, "bad" requests in all). With a random weighted split, when the canary's
  odds of a bad request are the stable's times ψ, the canary's share of the bad requests follows
  Fisher's noncentral hypergeometric distribution with odds ratio ψ, whatever the traffic mix or
  the weight. The null is ψ ≤ ψ0 (the tolerated margin); the factor is the likelihood ratio of a
  larger ψ against ψ0, the sequential form of Fisher's exact test (Turner, Ly, Grünwald, "Generic
  E-variables for exact sequential k-sample tests that allow for optional stopping", 2021).
  Its monotone likelihood ratio makes the factor's expectation at most 1 for every ψ ≤ ψ0.
- `binomial_log_lr`: the canary alone against an absolute bound p0 on its share of bad
  requests (Wald's SPRT, "Sequential tests of statistical hypotheses", 1945).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def _log_choose(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def _logsumexp(values: Sequence[float]) -> float:
    top = max(values)
    if math.isinf(top):
        return top
    return top + math.log(sum(math.exp(v - top) for v in values))


def _log_normaliser(canary: int, stable: int, bad: int, psi: float) -> float:
    low, high = max(0, bad - stable), min(canary, bad)
    log_psi = math.log(psi)
    return _logsumexp(
        [
            _log_choose(canary, x) + _log_choose(stable, bad - x) + x * log_psi
            for x in range(low, high + 1)
        ]
    )


def odds_ratio_log_lr(
    *, canary_bad: int, canary: int, stable_bad: int, stable: int, psi0: float, psi1: float
) -> float:
    """log P(canary_bad | margins; ψ1) − log P(canary_bad | margins; ψ0)."""
    bad = canary_bad + stable_bad
    if bad == 0 or bad == canary + stable or canary == 0 or stable == 0:
        return 0.0  # the margins fix the outcome: the window says nothing about ψ
    return (
        canary_bad * (math.log(psi1) - math.log(psi0))
        - _log_normaliser(canary, stable, bad, psi1)
        + _log_normaliser(canary, stable, bad, psi0)
    )


def binomial_log_lr(*, bad: int, total: int, p0: float, p1: float) -> float:
    """log of the likelihood ratio of `bad` of `total` at share p1 against share p0."""
    if total == 0:
        return 0.0
    return bad * (math.log(p1) - math.log(p0)) + (total - bad) * (math.log1p(-p1) - math.log1p(-p0))


@dataclass(frozen=True)
class Evidence:
    """One test's state: the log of each alternative's running likelihood ratio product."""

    log_products: tuple[float, ...]

    @classmethod
    def start(cls, alternatives: int) -> Evidence:
        return cls((0.0,) * alternatives)

    def add(self, log_lrs: Sequence[float]) -> Evidence:
        return Evidence(tuple(a + b for a, b in zip(self.log_products, log_lrs, strict=True)))

    @property
    def log_e_value(self) -> float:
        """Log of the equal-weight mixture of the alternatives' products."""
        return _logsumexp(self.log_products) - math.log(len(self.log_products))

    @property
    def e_value(self) -> float:
        return math.exp(min(self.log_e_value, 700.0))
