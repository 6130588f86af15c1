"""Trace input: Azure CSVs with rate scaling and overlay, Poisson arrivals from a rate series."""

from __future__ import annotations

import pytest

from scaling.simulator.trace import load_azure_csv, peak_rate, poisson_trace, thinned

CSV = """TIMESTAMP,ContextTokens,GeneratedTokens
2023-11-16 18:15:46.6805900,374,44
2023-11-16 18:15:50.9951690,396,109
2023-11-16 18:15:56.6805900,1000,10
"""


@pytest.fixture
def csv_path(tmp_path):
    path = tmp_path / "trace.csv"
    path.write_text(CSV)
    return path


def test_azure_csv_reads_seven_fractional_digits(csv_path):
    trace = load_azure_csv(csv_path)
    assert [r.arrival_s for r in trace.requests] == pytest.approx([0.0, 4.314579, 10.0])
    assert trace.requests[0].prompt_tokens == 374
    assert trace.requests[1].output_tokens == 109
    assert trace.start.isoformat() == "2023-11-16T18:15:46.680590+00:00"


def test_rate_scale_compresses_time(csv_path):
    trace = load_azure_csv(csv_path, rate_scale=10)
    assert trace.duration_s == pytest.approx(1.0)


def test_overlay_adds_shifted_copies(csv_path):
    trace = load_azure_csv(csv_path, overlay=3, overlay_shift_s=1.5)
    assert len(trace.requests) == 9
    assert [r.arrival_s for r in trace.requests[:3]] == pytest.approx([0.0, 1.5, 3.0])


def test_poisson_arrivals_follow_the_rate_and_the_seed():
    points = [(0.0, 10.0), (600.0, 10.0), (1200.0, 30.0)]
    one = poisson_trace(points, [100, 200], [10, 20], seed=3)
    two = poisson_trace(points, [100, 200], [10, 20], seed=3)
    other = poisson_trace(points, [100, 200], [10, 20], seed=4)
    assert one.requests == two.requests
    assert one.requests != other.requests
    # Expected count: 600 x 10 + 600 x 20 (mean of the ramp) = 18,000.
    assert len(one.requests) == pytest.approx(18_000, rel=0.03)
    assert all(r.prompt_tokens in (100, 200) for r in one.requests)
    assert peak_rate(one) > 25


def test_poisson_needs_two_points():
    with pytest.raises(ValueError, match="two points"):
        poisson_trace([(0.0, 1.0)], [1], [1])


def test_thinning_keeps_a_seeded_share_of_the_requests_in_order():
    trace = poisson_trace([(0.0, 20.0), (1800.0, 20.0)], [100, 200], [10, 20], seed=1)
    half = thinned(trace, 0.5, seed=7)
    assert half.requests == thinned(trace, 0.5, seed=7).requests
    assert half.requests != thinned(trace, 0.5, seed=8).requests
    assert len(half.requests) == pytest.approx(len(trace.requests) / 2, rel=0.03)
    assert set(half.requests) <= set(trace.requests)
    assert half.requests == sorted(half.requests)
    assert half.start == trace.start
    assert thinned(trace, 1.0, seed=7) is trace


@pytest.mark.parametrize("keep", [0.0, -0.5, 1.5])
def test_thinning_refuses_a_share_outside_zero_to_one(keep):
    trace = poisson_trace([(0.0, 1.0), (10.0, 1.0)], [1], [1])
    with pytest.raises(ValueError, match="keep must be in"):
        thinned(trace, keep, seed=0)
