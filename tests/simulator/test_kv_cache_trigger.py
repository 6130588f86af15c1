"""The KV-cache trigger: long-context traffic fills a replica's KV cache long before its request
slots, so only a trigger that reads the cache sees a full replica."""

from __future__ import annotations

import pytest

from scaling.promql import Target, kv_cache_usage_total
from scaling.simulator.autoscaler import Autoscaler, Observation
from scaling.simulator.engine import SimConfig, simulate
from scaling.simulator.trace import Request, Trace
from scaling.spec import ScalingSpec
from tests.simulator.conftest import START


def test_the_autoscaler_proposes_replicas_from_the_average_cache_usage():
    spec = ScalingSpec(max_replicas=10, target_kv_cache_usage_per_replica=0.75)
    observation = Observation(waiting_total=0, kv_usage_total=3.0)  # 3 replicas all full
    assert max(Autoscaler(spec).proposals(3, observation)) == 4
    assert Autoscaler(spec).active(observation)
    assert max(Autoscaler(ScalingSpec(max_replicas=10)).proposals(3, observation)) <= 3


def test_the_query_sums_both_metric_names_over_the_revision():
    query = kv_cache_usage_total(Target(namespace="tenant-acme", revision="chat-r1"))
    assert "vllm:kv_cache_usage_perc" in query
    assert "vllm:gpu_cache_usage_perc" in query
    assert query.endswith("or vector(0)")


@pytest.fixture
def long_context_trace() -> Trace:
    """Ten minutes of 16k-token prompts at a steady 2 per second: the queue stays short while
    each replica's cache is full."""
    return Trace([Request(i / 2, 16_000, 200) for i in range(1200)], START)


def test_with_the_kv_trigger_long_context_traffic_meets_more_of_the_slo_for_no_more_gpu_hours(
    long_context_trace,
):
    base = ScalingSpec(
        min_replicas=1,
        max_replicas=12,
        target_queue_per_replica=10.0,
        target_in_flight_per_replica=112.0,
        polling_interval_s=15,
    )
    config = SimConfig(slo_ttft_ms=5000, warmup_s=0)
    without = simulate(long_context_trace, base, config)
    with_kv = simulate(
        long_context_trace, base.with_changes(target_kv_cache_usage_per_replica=0.8), config
    )
    # Without it the queue trigger reacts only once requests pile up, then overshoots and
    # oscillates (more cold starts); the cache reading scales ahead of the pile-up.
    assert with_kv.slo_attainment > without.slo_attainment + 0.05
    assert with_kv.gpu_hours <= without.gpu_hours
