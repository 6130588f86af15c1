"""The canary gate's verdicts: never a pass without data, a fail names its evidence."""

from __future__ import annotations

import math

import pytest

from scaling.analysis.gate import Gates, Side, Verdict, evaluate, start_evidence
from scaling.analysis.histograms import Histogram, median_split

BOUNDS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def _hist(*counts: int) -> Histogram:
    """Per-bucket counts (one per bound, then +Inf) as a cumulative histogram."""
    cumulative, pairs = 0, []
    for bound, count in zip((*BOUNDS, math.inf), counts, strict=True):
        cumulative += count
        pairs.append((bound, cumulative))
    return Histogram(tuple(pairs))


def _side(requests: int, errors: int, ttft: Histogram) -> Side:
    return Side(requests=requests, errors=errors, ttft=ttft, tpot=_hist(0, 0, 0, 0, 0, 0, 0))


def test_histogram_quantile_interpolates_within_the_bucket_as_promql_does():
    histogram = _hist(50, 50, 0, 0, 0, 0, 0)
    assert histogram.quantile(0.5) == pytest.approx(0.1)
    assert histogram.quantile(0.75) == pytest.approx(0.175)
    assert _hist(0, 0, 0, 0, 0, 0, 10).quantile(0.95) == 5.0
    assert Histogram.empty().quantile(0.95) is None


def test_histogram_of_prometheus_increases_is_rounded_and_monotone():
    histogram = Histogram.of([(0.1, 2.4), (0.25, 2.2), (math.inf, 9.6)])
    assert histogram.buckets == ((0.1, 2), (0.25, 2), (math.inf, 10))


def test_median_split_picks_the_bound_nearest_half_of_both_sides():
    assert median_split(_hist(10, 30, 40, 20, 0, 0, 0), _hist(5, 5, 0, 0, 0, 0, 0)) == 0.25
    assert median_split(_hist(0, 0, 9, 0, 0, 0, 0)) is None


def test_no_data_is_never_a_pass():
    result = evaluate(
        gates=Gates(), evidence={}, canary=None, stable=None, unavailable="Prometheus is down"
    )
    assert result.verdict == Verdict.INCONCLUSIVE
    assert result.reason == "Prometheus is down"


def test_too_few_requests_on_either_side_is_inconclusive_and_adds_no_evidence():
    evidence = start_evidence(Gates())
    result = evaluate(
        gates=Gates(min_requests=20),
        evidence=evidence,
        canary=_side(5, 0, _hist(5, 0, 0, 0, 0, 0, 0)),
        stable=_side(200, 0, _hist(100, 100, 0, 0, 0, 0, 0)),
    )
    assert result.verdict == Verdict.INCONCLUSIVE
    assert "canary 5" in result.reason
    assert result.evidence == evidence


def test_a_canary_slower_than_the_stable_fails_with_its_counts_in_the_reason():
    stable = _side(300, 0, _hist(30, 120, 120, 30, 0, 0, 0))
    canary = _side(60, 0, _hist(0, 6, 24, 30, 0, 0, 0))
    result = evaluate(gates=Gates(), evidence={}, canary=canary, stable=stable)
    assert result.verdict == Verdict.FAIL
    assert "time to first token worse than the stable" in result.reason
    stats = result.statistics["ttft_vs_stable"]
    assert stats["above_s"] == 0.25
    assert stats["canary"] == [54, 60]
    assert stats["e_value"] >= stats["threshold"] == pytest.approx(6 / 0.05)


def test_a_canary_like_the_stable_passes_and_carries_its_evidence_forward():
    stable = _side(300, 1, _hist(30, 120, 120, 30, 0, 0, 0))
    canary = _side(60, 0, _hist(6, 24, 24, 6, 0, 0, 0))
    first = evaluate(gates=Gates(), evidence={}, canary=canary, stable=stable)
    assert first.verdict == Verdict.PASS
    second = evaluate(gates=Gates(), evidence=first.evidence, canary=canary, stable=stable)
    assert second.verdict == Verdict.PASS
    assert second.evidence["ttft_vs_stable"].log_products != (
        first.evidence["ttft_vs_stable"].log_products
    )


def test_server_errors_on_the_canary_fail_the_error_gates():
    stable = _side(400, 0, _hist(40, 160, 160, 40, 0, 0, 0))
    canary = _side(100, 12, _hist(9, 36, 35, 8, 0, 0, 0))
    result = evaluate(gates=Gates(), evidence={}, canary=canary, stable=stable)
    assert result.verdict == Verdict.FAIL
    assert "server errors" in result.reason or "error ratio" in result.reason


def test_an_absolute_slo_breach_fails_even_when_the_stable_is_as_slow():
    slow = _hist(0, 0, 0, 0, 10, 50, 40)
    result = evaluate(
        gates=Gates(ttft_p95_slo_s=2.5),
        evidence={},
        canary=_side(100, 0, slow),
        stable=_side(400, 0, _hist(0, 0, 0, 0, 40, 200, 160)),
    )
    assert result.verdict == Verdict.FAIL
    assert "TTFT p95 above its SLO" in result.reason
    assert "ttft_slo" not in Gates(ttft_p95_slo_s=None).tests
