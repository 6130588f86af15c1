"""The presets as the search over every workload shape chose them (scaling/presets.py)."""

from __future__ import annotations

import random

from scaling.presets import PRESETS, preset
from scaling.simulator.engine import SimConfig, simulate
from scaling.simulator.trace import Request, Trace
from tests.simulator.conftest import START


def long_context_trace(rate_per_s: float = 1.0, duration_s: float = 900.0) -> Trace:
    """Prompts of 8k-16k tokens: one replica's KV cache fills long before its queue grows."""
    rng = random.Random(0)
    requests, t = [], 0.0
    while t < duration_s:
        t += rng.expovariate(rate_per_s)
        requests.append(Request(t, rng.randint(8000, 16_000), rng.randint(100, 300)))
    return Trace(requests, START)


def test_every_preset_carries_a_maximum_above_the_specs_default():
    assert {spec.max_replicas for spec in PRESETS.values()} == {16}


def test_presets_order_their_reactions_from_latency_to_cost():
    latency, balanced, cost = PRESETS["latency"], PRESETS["balanced"], PRESETS["cost"]
    assert latency.target_queue_per_replica < balanced.target_queue_per_replica
    assert balanced.target_queue_per_replica < cost.target_queue_per_replica
    assert latency.scale_down_stabilization_s > balanced.scale_down_stabilization_s
    assert cost.scales_to_zero
    assert not balanced.scales_to_zero


def test_balanced_scales_long_context_traffic_its_queue_does_not_see():
    trace = long_context_trace()
    config = SimConfig(warmup_s=300)
    spec = preset("balanced", max_replicas=8)
    assert spec.target_kv_cache_usage_per_replica == 0.5
    with_kv = simulate(trace, spec, config)
    without = simulate(trace, spec.with_changes(target_kv_cache_usage_per_replica=None), config)
    assert with_kv.peak_replicas > without.peak_replicas
    assert with_kv.slo_attainment_servable > without.slo_attainment_servable + 0.1
