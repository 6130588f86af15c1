"""Whole simulations on small synthetic traces."""

from __future__ import annotations

from datetime import time

import pytest

from scaling.presets import PRESETS, preset
from scaling.simulator.engine import SimConfig, simulate
from scaling.simulator.oracle import oracle_lower_bound
from scaling.simulator.trace import Request, Trace
from scaling.spec import ScalingSpec, ScheduleFloor
from tests.simulator.conftest import START, steady_trace


def test_every_request_is_served_or_dropped(small_trace):
    spec = ScalingSpec(min_replicas=0, max_replicas=3)
    result = simulate(small_trace, spec, SimConfig(initial_replicas=0, interceptor_timeout_s=20))
    assert result.served + result.dropped == result.requests == len(small_trace.requests)
    assert result.dropped > 0  # the first cold start outlasts a 20 s interceptor timeout


def test_same_seed_gives_the_same_result(small_trace):
    spec = ScalingSpec(min_replicas=0, max_replicas=4, target_queue_per_replica=2)
    one = simulate(small_trace, spec, SimConfig(seed=7))
    two = simulate(small_trace, spec, SimConfig(seed=7))
    assert one == two


def test_different_seeds_draw_different_cold_starts(small_trace):
    spec = ScalingSpec(min_replicas=0, max_replicas=4, target_queue_per_replica=2)
    results = {simulate(small_trace, spec, SimConfig(seed=s)).gpu_hours for s in range(3)}
    assert len(results) > 1


def test_interceptor_holds_requests_through_the_cold_start():
    trace = Trace([Request(float(i), 300, 20) for i in range(5)], START)
    spec = ScalingSpec(min_replicas=0, max_replicas=2)
    result = simulate(trace, spec, SimConfig(initial_replicas=0))
    assert result.cold_starts == 1
    assert result.cold_start_waiters == 5
    assert result.dropped == 0
    assert result.ttft_p50_ms >= 60_000 - 5_000  # a cached cold start is 60-120 s
    assert result.slo_attainment == 0.0


def test_interceptor_timeout_drops_held_requests():
    trace = Trace([Request(float(i), 300, 20) for i in range(5)], START)
    spec = ScalingSpec(min_replicas=0, max_replicas=2)
    result = simulate(trace, spec, SimConfig(initial_replicas=0, interceptor_timeout_s=30))
    assert result.dropped == 5


def test_scales_to_zero_after_cooldown_and_cold_starts_on_the_next_request():
    trace = Trace([Request(float(i), 300, 20) for i in range(10)] + [Request(1000, 300, 20)], START)
    spec = ScalingSpec(min_replicas=0, max_replicas=2, cooldown_s=300, polling_interval_s=30)
    result = simulate(trace, spec)
    assert result.cold_starts == 1
    assert result.cold_start_waiters == 1
    # Billed: about 10 s of traffic + up to 330 s of cooldown, then the cold start onwards.
    assert result.gpu_hours < (10 + 330 + 130) / 3600


def test_a_warm_minimum_avoids_the_cold_start():
    trace = Trace([Request(float(i), 300, 20) for i in range(10)] + [Request(1000, 300, 20)], START)
    result = simulate(trace, ScalingSpec(min_replicas=1, max_replicas=2))
    assert result.cold_starts == 0
    assert result.slo_attainment == 1.0


def test_queue_builds_and_hpa_adds_replicas_under_overload():
    trace = steady_trace(rate_per_s=30, duration_s=300, prompt=1000, output=200)
    spec = ScalingSpec(min_replicas=1, max_replicas=6, target_queue_per_replica=5)
    result = simulate(trace, spec)
    assert result.peak_replicas > 1
    assert result.cold_starts >= 1
    assert result.peak_queue > 5


def test_schedule_floor_keeps_replicas_during_its_window():
    # START is Monday 12:00 UTC = 13:00 in Berlin, inside a weekday 08:00-18:00 floor.
    floor = ScheduleFloor(("mon",), time(8), time(18), "Europe/Berlin", min_replicas=3)
    trace = steady_trace(rate_per_s=1, duration_s=120)
    with_floor = simulate(trace, ScalingSpec(max_replicas=5, schedule_floors=(floor,)))
    without = simulate(trace, ScalingSpec(max_replicas=5))
    assert with_floor.peak_replicas == 3
    assert without.peak_replicas == 1
    assert with_floor.gpu_hours > 2.5 * without.gpu_hours


def test_the_simulator_uses_the_preset_numbers(small_trace):
    spec = preset("balanced", max_replicas=6)
    assert spec == PRESETS["balanced"].with_changes(max_replicas=6)
    base = simulate(small_trace, spec)
    changed = simulate(
        small_trace,
        # On this 4-minute burst balanced's step policy (+4 pods per 300 s), not a target,
        # decides the fleet.
        spec.with_changes(scale_up_pods_per_period=spec.scale_up_pods_per_period + 4),
    )
    assert base.summary() != changed.summary()


def test_oracle_is_below_a_fixed_fleet_that_meets_the_slo(small_trace):
    fixed = simulate(small_trace, ScalingSpec(min_replicas=4, max_replicas=4))
    assert fixed.slo_attainment >= 0.99
    oracle = oracle_lower_bound(small_trace)
    assert 0 < oracle.gpu_hours <= fixed.gpu_hours
    assert max(oracle.replicas) <= 4


def test_oracle_spends_nothing_on_idle_intervals():
    trace = Trace([Request(0.0, 300, 20), Request(270.0, 300, 20)], START)
    oracle = oracle_lower_bound(trace)
    assert oracle.replicas == [1, 0, 0, 0, 1]
    assert oracle.gpu_hours == pytest.approx((60 + 30) / 3600)


def test_requests_longer_than_the_model_are_dropped():
    trace = Trace([Request(0.0, 40_000, 10), Request(1.0, 300, 20)], START)
    result = simulate(trace, ScalingSpec(min_replicas=1))
    assert result.dropped == 1
    assert result.served == 1


def test_in_flight_trigger_scales_out_a_busy_replica_that_has_no_queue():
    # 20 requests/s fit one replica's 256 sequences, so nothing waits and the queue trigger
    # never fires, while about 40 requests are in flight at any time.
    trace = steady_trace(rate_per_s=20, duration_s=300, prompt=500, output=100)
    queue_only = ScalingSpec(min_replicas=1, max_replicas=8, polling_interval_s=15)
    with_in_flight = queue_only.with_changes(target_in_flight_per_replica=8)
    config = SimConfig(initial_replicas=1)
    assert simulate(trace, queue_only, config).peak_replicas == 1
    assert simulate(trace, with_in_flight, config).peak_replicas >= 3


def test_a_replica_prefilling_its_only_request_is_not_taken_for_idle():
    """A long prompt arrives while another is in its last prefill chunk on one of two ready
    replicas: it goes to the idle one, and both get their first token after their own
    prefill, as on an idle replica."""
    config = SimConfig(initial_replicas=2)
    alone = config.profile.prefill_s(16_000)
    assert config.profile.max_batched_tokens < 16_000 <= 2 * config.profile.max_batched_tokens
    trace = Trace([Request(0.0, 16_000, 50), Request(alone - 0.02, 16_000, 50)], START)
    result = simulate(trace, ScalingSpec(min_replicas=2, max_replicas=2), config)
    assert result.ttft_p99_ms == pytest.approx(alone * 1000, rel=1e-6)
