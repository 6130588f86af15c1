"""Workload shapes of the benchmark, and requests no replica count can serve in time."""

from __future__ import annotations

import pytest

from scaling.simulator.engine import SimConfig, simulate
from scaling.simulator.oracle import oracle_lower_bound
from scaling.simulator.profiles import DEFAULT_PROFILE
from scaling.simulator.trace import Request, Trace
from scaling.simulator.workloads import CODE, CONV, WORKLOADS, diurnal_rate, docqa
from scaling.spec import ScalingSpec
from tests.simulator.conftest import START


@pytest.fixture
def traces(tmp_path):
    lines = ["TIMESTAMP,ContextTokens,GeneratedTokens"]
    for i in range(600):
        lines.append(f"2023-11-16 18:{15 + i // 60:02d}:{i % 60:02d}.5000000,{300 + i % 7},{20}")
    for name in (CONV, CODE):
        (tmp_path / name).write_text("\n".join(lines) + "\n")
    return tmp_path


def test_docqa_keeps_real_arrivals_with_long_prompts_and_short_outputs(traces):
    trace = docqa(traces, seed=1)
    assert 200 < len(trace.requests) < 400  # half of the 600 arrivals
    assert all(4096 <= r.prompt_tokens <= 32_000 for r in trace.requests)
    assert all(100 <= r.output_tokens <= 300 for r in trace.requests)
    assert docqa(traces, seed=1) == trace
    assert docqa(traces, seed=2) != trace


def test_diurnal_day_peaks_in_the_afternoon_at_four_times_the_night_with_bursts():
    mean = 10.0
    afternoon, night = diurnal_rate(14 * 3600 + 600, mean), diurnal_rate(2 * 3600 + 600, mean)
    assert afternoon / night == pytest.approx(4.0, rel=0.01)
    assert diurnal_rate(5400 + 60, mean) == pytest.approx(
        2.5 * diurnal_rate(5400 + 600, mean), 0.01
    )


def test_every_workload_builds_deterministically(traces):
    for workload in WORKLOADS.values():
        one, two = workload.build(traces, 0), workload.build(traces, 0)
        assert one == two
        assert one.requests


def test_a_prompt_whose_prefill_exceeds_the_slo_is_not_servable():
    longest = DEFAULT_PROFILE.longest_prefill_within(1.0)
    assert DEFAULT_PROFILE.prefill_s(longest) <= 1.0 < DEFAULT_PROFILE.prefill_s(longest + 1)
    trace = Trace([Request(0.0, longest + 500, 10), Request(5.0, 500, 10)], START)
    result = simulate(trace, ScalingSpec(min_replicas=1), SimConfig())
    assert result.servable == 1
    assert result.slo_attainment == 0.5
    assert result.slo_attainment_servable == 1.0
    cached = simulate(trace, ScalingSpec(min_replicas=1), SimConfig(prefix_cache_hit=0.5))
    assert cached.servable == 2  # half the prompt comes from the prefix cache


def test_oracle_buys_no_replicas_for_requests_it_cannot_serve_in_time():
    longest = DEFAULT_PROFILE.longest_prefill_within(1.0)
    trace = Trace([Request(i * 6.0, longest + 2000, 10) for i in range(40)], START)
    oracle = oracle_lower_bound(trace)
    assert max(oracle.replicas) == 1
