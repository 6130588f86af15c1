"""The prompt-token trigger: prefill is the work a prompt waits for before its first token, so
the rate of prompt tokens per replica sees a long-context replica busy before anyone queues."""

from __future__ import annotations

import random

import pytest

from scaling.promql import Target, prompt_tokens_rate_total
from scaling.simulator.autoscaler import Autoscaler, Observation
from scaling.simulator.engine import SimConfig, simulate
from scaling.simulator.trace import Request, Trace
from scaling.spec import ScalingSpec
from tests.simulator.conftest import START


def test_the_autoscaler_proposes_replicas_from_the_prompt_tokens_per_replica():
    spec = ScalingSpec(max_replicas=10, target_prompt_tokens_per_s_per_replica=8000)
    observation = Observation(waiting_total=0, prompt_tokens_per_s=40_000)
    assert max(Autoscaler(spec).proposals(3, observation)) == 5
    assert Autoscaler(spec).active(observation)
    assert max(Autoscaler(ScalingSpec(max_replicas=10)).proposals(3, observation)) <= 3


def test_the_query_rates_vllms_prompt_token_counter_over_the_revision():
    query = prompt_tokens_rate_total(Target(namespace="tenant-acme", revision="chat-r1"))
    assert query == (
        'sum(rate(vllm:prompt_tokens_total{namespace="tenant-acme",revision="chat-r1"}[1m])) '
        "or vector(0)"
    )


@pytest.fixture
def long_prompts() -> Trace:
    """Fifteen minutes of 8k-24k-token prompts, 1.5 a second: each prefill takes a good part of
    the 1 s SLO, so a replica must be far from busy for the next prompt to start in time, while
    its queue and KV cache still look half empty."""
    rng = random.Random(0)
    requests, t = [], 0.0
    while t < 900:
        t += rng.expovariate(1.5)
        requests.append(Request(t, rng.randint(8000, 24_000), rng.randint(100, 300)))
    return Trace(requests, START)


def test_with_the_prompt_token_trigger_long_prompts_meet_more_of_the_slo_for_fewer_gpu_hours(
    long_prompts,
):
    base = ScalingSpec(
        min_replicas=1,
        max_replicas=16,
        target_queue_per_replica=3.0,
        target_in_flight_per_replica=112.0,
        target_kv_cache_usage_per_replica=0.5,
        polling_interval_s=15,
    )
    config = SimConfig(warmup_s=300)
    without = simulate(long_prompts, base, config)
    with_prompt = simulate(
        long_prompts, base.with_changes(target_prompt_tokens_per_s_per_replica=6000), config
    )
    # Without it the queue trigger fires only once prompts pile up, then overshoots to the
    # maximum and oscillates; the prompt-token rate holds the fleet where prefill keeps up.
    assert with_prompt.slo_attainment_servable > without.slo_attainment_servable + 0.2
    assert with_prompt.gpu_hours < without.gpu_hours
