"""The reactive reference: the oracle's fleet one interval late, as schedule floors, with the
cold start paid. It follows a steady load at about the oracle's cost and misses the start of a
burst that no signal announced."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, timezone

import pytest

from scaling.simulator.engine import SimConfig
from scaling.simulator.oracle import OracleResult, oracle_lower_bound
from scaling.simulator.reactive import (
    floors_for_levels,
    lagged_levels,
    reactive_reference,
    reactive_reference_spec,
)
from scaling.simulator.trace import Request, Trace
from tests.simulator.conftest import START, steady_trace


def test_the_signal_is_the_need_of_an_interval_earlier():
    oracle = OracleResult(gpu_hours=0.0, interval_s=60.0, replicas=[2, 5, 3, 0], slo_target=0.99)
    assert lagged_levels(oracle) == [2, 2, 5, 3]
    assert lagged_levels(oracle, 2) == [2, 2, 2, 5]
    assert lagged_levels(oracle, 0) == [2, 5, 3, 0]


def test_headroom_rides_on_the_signal_up_to_the_maximum():
    trace = steady_trace(1.0, 240)
    oracle = OracleResult(gpu_hours=0.0, interval_s=60.0, replicas=[2, 5, 3, 1], slo_target=0.99)
    spec = reactive_reference_spec(trace, oracle, hold_s=0, max_replicas=6, headroom=2)
    assert [f.min_replicas for f in spec.schedule_floors] == [4, 6, 5]


def test_floors_merge_equal_levels_and_cut_at_midnight():
    start = datetime(2024, 1, 1, 23, 57, tzinfo=UTC)  # a Monday
    floors = floors_for_levels([1, 1, 2, 2, 2, 1], start, 60.0)
    assert [(f.days, f.start, f.end, f.min_replicas) for f in floors] == [
        (("mon",), time(23, 57), time(23, 59), 1),
        (("mon",), time(23, 59), time.max, 2),
        (("tue",), time(0, 0), time(0, 2), 2),
        (("tue",), time(0, 2), time(0, 3), 1),
    ]


def test_floors_name_utc_whatever_the_traces_zone():
    start = datetime(2024, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=2)))  # Sunday 23:00 UTC
    floors = floors_for_levels([1, 2], start, 60.0)
    assert [(f.days, f.start, f.end, f.timezone) for f in floors] == [
        (("sun",), time(23, 0), time(23, 1), "UTC"),
        (("sun",), time(23, 1), time(23, 2), "UTC"),
    ]


def test_a_steady_load_is_followed_at_about_the_oracles_cost():
    trace = steady_trace(12.0, 1200, prompt=2000, output=200)
    config = SimConfig()
    oracle = oracle_lower_bound(trace, config)
    spec = reactive_reference_spec(trace, oracle, hold_s=0, max_replicas=8)
    result = reactive_reference(trace, spec, config)
    assert result.slo_attainment_servable >= 0.99
    assert result.gpu_hours <= 1.15 * oracle.gpu_hours


def test_a_burst_no_signal_announced_is_missed_until_its_replicas_are_ready():
    quiet = [Request(i * 5.0, 400, 50) for i in range(120)]
    burst = [Request(600 + i / 20, 2000, 400) for i in range(20 * 240)]
    trace = Trace(quiet + burst, START)
    config = SimConfig()
    oracle = oracle_lower_bound(trace, config)
    assert max(oracle.replicas) >= 3
    spec = reactive_reference_spec(trace, oracle, hold_s=0, max_replicas=8)
    result = reactive_reference(trace, spec, config)
    # A perfect signal sees the burst one interval late, and its replicas take a cold start.
    assert result.slo_attainment_servable < 0.9
    assert result.cold_starts >= 2


def test_a_trace_longer_than_a_week_is_refused():
    trace = Trace([Request(0.0, 100, 10), Request(8 * 86_400.0, 100, 10)], START)
    oracle = OracleResult(gpu_hours=0.0, interval_s=60.0, replicas=[1], slo_target=0.99)
    with pytest.raises(ValueError, match="at most a week"):
        reactive_reference_spec(trace, oracle, hold_s=0, max_replicas=4)
