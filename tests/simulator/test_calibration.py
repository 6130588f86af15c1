"""The replica model reproduces each published measurement in calibration.py."""

from __future__ import annotations

import pytest

from scaling.simulator import calibration
from scaling.simulator.calibration import MEASUREMENTS, TOLERANCE, reproduce, run_batch
from scaling.simulator.hardware import H100, LLAMA_8B, build_profile
from scaling.simulator.profiles import DEFAULT_PROFILE, HARDWARE, profile_for


@pytest.mark.parametrize("measurement", MEASUREMENTS, ids=lambda m: m.key)
def test_reproduces_the_published_figure_within_tolerance(measurement):
    simulated = reproduce(measurement)
    assert simulated == pytest.approx(measurement.published, rel=TOLERANCE)


def test_every_measurement_names_a_source_url():
    for m in MEASUREMENTS:
        assert m.source.startswith("https://")
    assert len({m.key for m in MEASUREMENTS}) == len(MEASUREMENTS)


def test_sharegpt_like_sample_has_the_published_means():
    pairs = calibration.sharegpt_like(1000)
    assert sum(p for p, _ in pairs) / 1000 == pytest.approx(229.7, rel=0.05)
    assert sum(o for _, o in pairs) / 1000 == pytest.approx(203.1, rel=0.05)


def test_kv_capacity_follows_memory_utilization_weights_and_block_size():
    kv = LLAMA_8B.kv_bytes_per_token
    assert kv == 128 * 1024  # 32 layers x 8 KV heads x 128 dims x (K, V) x 2 bytes
    low = build_profile("low", LLAMA_8B, H100, gpu_memory_utilization=0.5)
    high = build_profile("high", LLAMA_8B, H100, gpu_memory_utilization=0.9)
    # 40 % of 80 GB more for the cache.
    assert high.kv_capacity_tokens - low.kv_capacity_tokens == pytest.approx(32e9 / kv, rel=0.01)
    coarse = build_profile("coarse", LLAMA_8B, H100, block_size=1024)
    assert coarse.kv_capacity_tokens % 1024 == 0
    assert coarse.kv_capacity_tokens <= high.kv_capacity_tokens
    expected = (80e9 * 0.9 - LLAMA_8B.weight_bytes - 2e9) / kv
    assert high.kv_capacity_tokens == pytest.approx(expected, abs=16)


def test_profiles_for_a_whole_gpu_tensor_parallel_and_a_mig_slice():
    mig = HARDWARE["llama-3.1-8b/h100-mig-3g.40gb"]
    tp4 = HARDWARE["llama-3.1-70b/4xh100-80gb"]
    assert tp4.gpus_per_replica == 4
    assert mig.kv_capacity_tokens < DEFAULT_PROFILE.kv_capacity_tokens / 2
    assert mig.decode_step_s(64, 1000) > DEFAULT_PROFILE.decode_step_s(64, 1000)
    assert tp4.decode_step_s(64, 1000) > DEFAULT_PROFILE.decode_step_s(64, 1000)


def test_the_model_version_picks_its_profile():
    assert profile_for("meta-llama/Llama-3.1-8B-Instruct") is DEFAULT_PROFILE
    assert (
        profile_for("llama-3.1-70b-instruct", gpus_per_replica=4)
        is HARDWARE["llama-3.1-70b/4xh100-80gb"]
    )
    assert (
        profile_for("llama-8b", gpus_per_replica=0, mig_profile="3g.40gb")
        is HARDWARE["llama-3.1-8b/h100-mig-3g.40gb"]
    )
    tuned = profile_for("llama-8b", engine_args={"max_num_seqs": 64, "max_model_len": 8192})
    assert (tuned.max_num_seqs, tuned.max_model_len) == (64, 8192)
    with pytest.raises(KeyError):
        profile_for("llama-70b", gpus_per_replica=1)  # 141 GB of weights on one GPU
    with pytest.raises(KeyError):
        profile_for("llama-8b", gpus_per_replica=0, mig_profile="1g.10gb")


def test_small_trace_burst_needs_about_three_replicas():
    # tests/simulator/conftest.py sizes its burst from this figure.
    duration, _ = run_batch(DEFAULT_PROFILE, [(2000, 400)] * 2000)
    assert 2.5 < 20 / (2000 / duration) < 4
