"""The sequential tests behind the canary gate: exact, anytime-valid, and powerful."""

from __future__ import annotations

import math
import random

import pytest

from scaling.analysis.sequential import Evidence, binomial_log_lr, odds_ratio_log_lr


def _fisher_pmf(x: int, canary: int, stable: int, bad: int, psi: float) -> float:
    """Fisher's noncentral hypergeometric pmf by brute force over the support."""
    support = range(max(0, bad - stable), min(canary, bad) + 1)
    weights = {k: math.comb(canary, k) * math.comb(stable, bad - k) * psi**k for k in support}
    return weights[x] / sum(weights.values())


def test_odds_ratio_likelihood_ratio_matches_the_noncentral_hypergeometric():
    for x, canary, stable, bad in ((3, 10, 40, 12), (0, 5, 50, 4), (7, 7, 30, 20)):
        expected = math.log(_fisher_pmf(x, canary, stable, bad, 3.0)) - math.log(
            _fisher_pmf(x, canary, stable, bad, 1.5)
        )
        actual = odds_ratio_log_lr(
            canary_bad=x, canary=canary, stable_bad=bad - x, stable=stable, psi0=1.5, psi1=3.0
        )
        assert actual == pytest.approx(expected, rel=1e-9)


def test_odds_ratio_factor_has_expectation_one_under_the_null():
    canary, stable, bad = 12, 60, 20
    expectation = sum(
        _fisher_pmf(x, canary, stable, bad, 1.5)
        * math.exp(
            odds_ratio_log_lr(
                canary_bad=x, canary=canary, stable_bad=bad - x, stable=stable, psi0=1.5, psi1=6.0
            )
        )
        for x in range(0, canary + 1)
    )
    assert expectation == pytest.approx(1.0, rel=1e-9)


def test_a_window_whose_margins_fix_the_outcome_adds_no_evidence():
    assert odds_ratio_log_lr(canary_bad=0, canary=10, stable_bad=0, stable=90, psi0=1, psi1=4) == 0
    assert odds_ratio_log_lr(canary_bad=5, canary=5, stable_bad=0, stable=0, psi0=1, psi1=4) == 0
    assert binomial_log_lr(bad=0, total=0, p0=0.05, p1=0.2) == 0


def test_binomial_evidence_grows_with_bad_requests_and_shrinks_without():
    assert binomial_log_lr(bad=10, total=40, p0=0.05, p1=0.2) > 0
    assert binomial_log_lr(bad=0, total=40, p0=0.05, p1=0.2) < 0


def test_mixture_e_value_is_the_mean_of_the_alternatives_products():
    evidence = Evidence.start(2).add([math.log(4.0), math.log(0.5)])
    assert evidence.e_value == pytest.approx((4.0 + 0.5) / 2)


def test_a_canary_like_the_stable_rarely_ever_crosses_however_often_it_is_checked():
    """Ville's inequality: under the null the e-process reaches 1/α with chance at most α,
    over every check of the run, not per check."""
    rng = random.Random(7)
    alpha, crossed = 0.05, 0
    for _ in range(300):
        evidence = Evidence.start(3)
        for _check in range(30):
            canary = sum(1 for _ in range(100) if rng.random() < 0.1)
            stable = 100 - canary
            canary_bad = sum(1 for _ in range(canary) if rng.random() < 0.5)
            stable_bad = sum(1 for _ in range(stable) if rng.random() < 0.5)
            evidence = evidence.add(
                [
                    odds_ratio_log_lr(
                        canary_bad=canary_bad,
                        canary=canary,
                        stable_bad=stable_bad,
                        stable=stable,
                        psi0=1.0,
                        psi1=r,
                    )
                    for r in (2.0, 4.0, 8.0)
                ]
            )
            if evidence.e_value >= 1 / alpha:
                crossed += 1
                break
    assert crossed / 300 <= alpha


def test_a_canary_twice_as_likely_to_be_slow_is_caught_within_a_few_checks():
    rng = random.Random(11)
    checks_needed = []
    for _ in range(50):
        evidence = Evidence.start(3)
        for check in range(1, 21):
            canary_bad = sum(1 for _ in range(30) if rng.random() < 0.8)
            stable_bad = sum(1 for _ in range(270) if rng.random() < 0.5)
            evidence = evidence.add(
                [
                    odds_ratio_log_lr(
                        canary_bad=canary_bad,
                        canary=30,
                        stable_bad=stable_bad,
                        stable=270,
                        psi0=1.5,
                        psi1=1.5 * r,
                    )
                    for r in (2.0, 4.0, 8.0)
                ]
            )
            if evidence.e_value >= 20:
                checks_needed.append(check)
                break
    assert len(checks_needed) == 50
    assert sorted(checks_needed)[44] <= 5
