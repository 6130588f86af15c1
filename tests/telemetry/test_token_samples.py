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
