"""Continuous batching in one replica: prefill, decode steps and interrupted decode runs."""

from __future__ import annotations

import pytest

from scaling.simulator.hardware import prefill_pairs
from scaling.simulator.profiles import DEFAULT_PROFILE as P
from scaling.simulator.replica import READY, Job, Replica


def _replica() -> Replica:
    replica = Replica(0, P, 0.0)
    replica.state = READY
    return replica


def _run_s(first: float, growth: float, k: int) -> float:
    return k * first + growth * k * (k - 1) / 2


def test_first_token_comes_after_the_prefill_step():
    replica = _replica()
    job = Job(0, 0.0, 500, 100)
    replica.waiting.append(job)
    end = replica.start_step(0.0)
    assert end == pytest.approx(P.step_s(500, 0, prefill_pairs(0, 500)))
    first, finished = replica.finish_step(end)
    assert first == [job]
    assert finished == []
    assert job.first_token_s == pytest.approx(end)


def test_a_decode_run_is_one_event_and_an_arrival_cuts_it_at_the_step_boundary():
    replica = _replica()
    a, b = Job(0, 0.0, 500, 100), Job(1, 0.1, 500, 100)
    replica.waiting.append(a)
    t1 = replica.finish_step(replica.start_step(0.0))[0][0].first_token_s
    # Alone, A's remaining 99 tokens are one run of batch-1 steps, each attending one more token.
    first, growth = P.decode_step_s(1, 501), P.kv_s_per_token
    assert replica.start_step(t1) == pytest.approx(t1 + _run_s(first, growth, 99))
    replica.waiting.append(b)
    cut = replica.interrupt(0.1)
    done = next(k for k in range(1, 99) if t1 + _run_s(first, growth, k) > 0.1)
    assert cut == pytest.approx(t1 + _run_s(first, growth, done))  # the step in progress at 0.1 s
    replica.finish_step(cut)
    end = replica.start_step(cut)
    # A decodes (context 501 + done tokens) while B prefills in the same step.
    assert end == pytest.approx(cut + P.step_s(501, 501 + done, prefill_pairs(0, 500)))
    first_b, _ = replica.finish_step(end)
    assert first_b == [b]
    # A has 1 + done + 1 tokens; the rest at batch 2.
    left = 100 - (done + 2)
    step2 = P.step_s(2, (501 + done + 1) + 501)
    assert replica.start_step(end) == pytest.approx(end + _run_s(step2, 2 * growth, left))
    _, finished = replica.finish_step(end + _run_s(step2, 2 * growth, left))
    assert finished == [a]
    assert replica.attended == 500 + 1 + left  # B's context; A's was released
    assert replica.kv_used == P.blocks_tokens(600)


def test_admission_stops_at_max_num_seqs():
    replica = _replica()
    for i in range(300):
        replica.waiting.append(Job(i, 0.0, 10, 10))
    replica.start_step(0.0)
    assert len(replica.prefilling) + len(replica._completing) == 256
    assert len(replica.waiting) == 44


def test_admission_stops_when_kv_cache_is_full():
    replica = _replica()
    size = P.kv_capacity_tokens // 2 - 100
    for i in range(3):
        replica.waiting.append(Job(i, 0.0, size, 10))
    replica.start_step(0.0)
    assert len(replica.waiting) == 1


def test_kv_is_reserved_in_whole_blocks():
    replica = _replica()
    replica.waiting.append(Job(0, 0.0, 17, 1))
    replica.start_step(0.0)
    assert replica.kv_used == 2 * P.block_size


def test_decode_step_time_rises_with_batch_and_with_context():
    assert P.decode_step_s(1, 500) < P.decode_step_s(100, 500) < P.decode_step_s(256, 500)
    assert P.decode_step_s(64, 500) < P.decode_step_s(64, 8000)
    # Memory-bound at batch 1: the weights are read once per step whatever the batch.
    assert P.decode_step_s(1, 0) == pytest.approx(P.step_fixed_s + P.weights_s)


def test_prefill_grows_faster_than_the_prompt():
    per_token_4k = P.prefill_s(4096) / 4096
    per_token_32k = P.prefill_s(32_768) / 32_768
    # At 32k tokens the attention term adds about a third to the linear layers' cost per token.
    assert per_token_32k > 1.25 * per_token_4k


def test_prefix_cache_hits_skip_prefill_but_stay_attended():
    cold, warm = _replica(), _replica()
    cold.waiting.append(Job(0, 0.0, 4000, 10))
    warm.waiting.append(Job(0, 0.0, 4000, 10, cached=3000))
    cold_end, warm_end = cold.start_step(0.0), warm.start_step(0.0)
    assert warm_end == pytest.approx(P.step_s(1000, 0, prefill_pairs(3000, 1000)))
    assert warm_end < cold_end / 2
    cold.finish_step(cold_end)
    warm.finish_step(warm_end)
    assert warm.attended == cold.attended == 4001
