"""Token sizes drawn from a Prometheus histogram's cumulative buckets."""

from __future__ import annotations

import math
import statistics

import pytest

from scaling.telemetry import token_samples

INF = math.inf


def test_samples_follow_the_share_of_each_bucket():
    # 25 requests up to 100 tokens, 75 between 100 and 1000.
    samples = token_samples([(100, 25), (1000, 100), (INF, 100)], n=400)
    assert len(samples) == 400
    assert sum(s <= 100 for s in samples) == 100
    assert all(100 <= s <= 1000 for s in samples[100:])


def test_samples_interpolate_linearly_inside_a_bucket():
    samples = token_samples([(1000, 10), (INF, 10)], n=1000)
    assert statistics.median(samples) == pytest.approx(500, abs=2)
    assert min(samples) >= 1
    assert max(samples) == 1000


def test_the_open_bucket_takes_the_highest_finite_bound_like_histogram_quantile():
    samples = token_samples([(50, 0), (200, 0), (INF, 8)], n=16)
    assert samples == [200] * 16


def test_samples_are_sorted_and_at_least_one_token():
    samples = token_samples([(1, 3), (2, 3), (5, 6), (INF, 6)], n=60)
    assert samples == sorted(samples)
    assert min(samples) == 1


def test_an_empty_histogram_is_refused():
    with pytest.raises(ValueError, match="no observations"):
        token_samples([(100, 0), (INF, 0)])


def test_expected_requests_weigh_each_rate_by_the_span_it_holds_for():
    from datetime import UTC, datetime

    from scaling.telemetry import RequestHistory

    history = RequestHistory(
        start=datetime(2024, 1, 1, tzinfo=UTC),
        end=datetime(2024, 1, 1, 0, 0, 30, tzinfo=UTC),
        step_s=10,
        rates=[(0.0, 1.0), (10.0, 2.0), (20.0, 0.5), (30.0, 0.0)],
        prompt_tokens=[100],
        output_tokens=[10],
        observed_requests=35,
    )
    assert history.expected_requests == pytest.approx(35.0)
    assert 15 <= len(history.to_trace(seed=3).requests) <= 60
