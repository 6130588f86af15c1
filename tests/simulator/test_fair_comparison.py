"""Fair start (each policy from its own state, warm-up not measured) and the two oracle bounds."""

from __future__ import annotations

from dataclasses import replace

import pytest

from scaling.comparison import FAIR_WARMUP_S, compare
from scaling.simulator.engine import SimConfig, simulate
from scaling.simulator.oracle import cold_start_bound_s, oracle_lower_bound
from scaling.spec import ScalingSpec
from tests.simulator.conftest import steady_trace


def test_warm_up_is_played_from_the_policys_floor_and_not_measured():
    trace = steady_trace(rate_per_s=2, duration_s=600)
    spec = ScalingSpec(min_replicas=0, max_replicas=2)
    cold = simulate(trace, spec, SimConfig(initial_replicas=0))
    warm = simulate(trace, spec, SimConfig(warmup_s=300))
    # From zero, the first cold start meets the trace's first requests...
    assert cold.cold_starts == 1
    assert cold.cold_start_waiters > 0
    # ...but with a warm-up the policy paid it before the measured window.
    assert warm.cold_starts == 0
    assert warm.cold_start_waiters == 0
    assert warm.requests == cold.requests == len(trace.requests)
    assert warm.slo_attainment == 1.0
    assert warm.series.t_s[0] == 0.0


def test_gpu_hours_count_from_the_end_of_the_warm_up():
    trace = steady_trace(rate_per_s=2, duration_s=600)
    fixed = ScalingSpec(min_replicas=2, max_replicas=2)
    plain = simulate(trace, fixed, SimConfig())
    warm = simulate(trace, fixed, SimConfig(warmup_s=300))
    assert warm.gpu_hours == pytest.approx(plain.gpu_hours, rel=0.01)
    assert warm.duration_s == pytest.approx(plain.duration_s, abs=1.0)


def test_compare_runs_each_policy_from_its_own_warm_up_not_the_oracles_fleet(small_trace):
    spec = ScalingSpec(min_replicas=1, max_replicas=6, target_queue_per_replica=2)
    config = SimConfig(seed=3)
    outcome = compare(small_trace, {"p": spec}, config).outcomes[0]
    assert outcome.result == simulate(small_trace, spec, replace(config, warmup_s=FAIR_WARMUP_S))


def test_cold_start_bound_starts_each_added_replica_one_cold_start_ahead():
    # Replica 1 serves the whole 300 s; replicas 2 and 3 serve 120-240 s, each started 90 s
    # earlier and billed from then.
    assert cold_start_bound_s([1, 1, 3, 3, 1], 60, 300, 90) == 300 + 2 * (120 + 90)


def test_cold_start_bound_keeps_a_replica_through_a_gap_shorter_than_a_cold_start():
    assert cold_start_bound_s([1, 0, 1], 60, 180, 90) == 180  # kept through the 60 s gap
    assert cold_start_bound_s([1, 0, 0, 1], 60, 240, 90) == 60 + 60 + 90  # restarted


def test_the_bounds_sit_below_a_fixed_fleet_that_meets_the_slo(small_trace):
    fixed = simulate(small_trace, ScalingSpec(min_replicas=4, max_replicas=4))
    assert fixed.slo_attainment >= 0.99
    oracle = oracle_lower_bound(small_trace)
    assert 0 < oracle.gpu_hours < oracle.cold_start_gpu_hours <= fixed.gpu_hours


def test_a_comparison_reports_the_ratio_to_both_bounds(small_trace):
    spec = ScalingSpec(min_replicas=1, max_replicas=6, target_queue_per_replica=2)
    comparison = compare(small_trace, {"p": spec})
    row = comparison.summary()["policies"][0]
    assert row["cold_start_bound_gpu_hours"] > row["oracle_gpu_hours"] > 0
    assert row["gpu_hours_vs_cold_start_bound"] < row["gpu_hours_vs_oracle"]
    assert row["gpu_hours_vs_oracle"] == pytest.approx(
        row["gpu_hours"] / row["oracle_gpu_hours"], rel=0.01
    )
