"""Continuous batching in one replica: prefill, decode steps and interrupted decode runs."""

from __future__ import annotations

import pytest

from scaling.simulator.hardware import DEFAULT_PROFILE
from scaling.simulator.replica import READY, Job, Replica


def _replica() -> Replica:
    replica = Replica(0, DEFAULT_PROFILE, 0.0)
    replica.state = READY
    return replica


def test_first_token_comes_after_the_prefill_step():
    replica = _replica()
    job = Job(0, 0.0, 500, 100)
    replica.waiting.append(job)
    end = replica.start_step(0.0)
    assert end == pytest.approx(500 / 25_000)
    first, finished = replica.finish_step(end)
    assert first == [job]
    assert finished == []
    assert job.first_token_s == pytest.approx(0.02)


def test_a_decode_run_is_one_event_and_an_arrival_cuts_it_at_the_step_boundary():
    replica = _replica()
    a, b = Job(0, 0.0, 500, 100), Job(1, 0.1, 500, 100)
    replica.waiting.append(a)
    replica.finish_step(replica.start_step(0.0))
    # Alone, A's remaining 99 tokens are one run of batch-1 steps (6 ms each).
    assert replica.start_step(0.02) == pytest.approx(0.02 + 99 * 0.006)
    replica.waiting.append(b)
    cut = replica.interrupt(0.1)
    assert cut == pytest.approx(0.02 + 14 * 0.006)  # the step in progress at 0.1 s
    replica.finish_step(cut)
    end = replica.start_step(cut)
    assert end == pytest.approx(cut + 0.006 + 500 / 25_000)  # A decodes while B prefills
    first, _ = replica.finish_step(end)
    assert first == [b]
    # A has 1 + 14 + 1 tokens; 84 more at batch 2.
    assert replica.start_step(end) == pytest.approx(end + 84 * DEFAULT_PROFILE.decode_step_s(2))
    _, finished = replica.finish_step(end + 84 * DEFAULT_PROFILE.decode_step_s(2))
    assert finished == [a]


def test_admission_stops_at_max_num_seqs():
    replica = _replica()
    for i in range(300):
        replica.waiting.append(Job(i, 0.0, 10, 10))
    replica.start_step(0.0)
    assert len(replica.prefilling) + len(replica._completing) == 256
    assert len(replica.waiting) == 44


def test_admission_stops_when_kv_cache_is_full():
    replica = _replica()
    for i in range(3):
        replica.waiting.append(Job(i, 0.0, 200_000, 10))
    replica.start_step(0.0)
    assert len(replica.waiting) == 1


def test_decode_step_time_rises_with_batch():
    assert DEFAULT_PROFILE.decode_step_s(1) == pytest.approx(0.006)
    assert DEFAULT_PROFILE.decode_step_s(256) == pytest.approx(0.050)
    assert DEFAULT_PROFILE.decode_step_s(1) < DEFAULT_PROFILE.decode_step_s(100)
