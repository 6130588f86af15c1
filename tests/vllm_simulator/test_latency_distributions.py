"""Latency shapes for canary tests: a regression factor and per-sequence lognormal spread."""

from __future__ import annotations

import math
import random
import subprocess
import sys
import threading

import pytest

from scaling.vllm_simulator import ConfigError, SimulatorConfig, VllmSimulator
from scaling.vllm_simulator.engine import Engine
from scaling.vllm_simulator.metrics import SimulatorMetrics
from tests.servers import free_port
from tests.vllm_simulator.helpers import REPO_ROOT, call, families, get, metric, post

TTFT = "vllm:time_to_first_token_seconds"


def bucket_counts(sim: VllmSimulator, histogram: str) -> dict[float, float]:
    """Observations per bucket (not cumulative), keyed by the bucket's upper bound."""
    cumulative = sorted(
        (float(sample.labels["le"]), sample.value)
        for sample in families(sim)[histogram].samples
        if sample.name == f"{histogram}_bucket"
    )
    counts, below = {}, 0.0
    for bound, value in cumulative:
        counts[bound] = value - below
        below = value
    return counts


def complete_concurrently(sim: VllmSimulator, requests: int) -> list[int]:
    statuses: list[int] = []

    def complete() -> None:
        statuses.append(post(sim, "/v1/completions", {"prompt": "x", "max_tokens": 1}).status)

    threads = [threading.Thread(target=complete) for _ in range(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def test_ttft_sigma_spreads_the_ttft_histogram_over_several_buckets(start):
    # 110 ms sits inside the (0.1, 0.25] bucket with room for scheduling delays on a busy host.
    fixed = start(ttft_ms=110, seed=3)
    spread = start(ttft_ms=110, ttft_sigma=0.8, seed=3)

    assert complete_concurrently(fixed, 40) == [200] * 40
    assert complete_concurrently(spread, 40) == [200] * 40

    fixed_counts = bucket_counts(fixed, TTFT)
    spread_counts = bucket_counts(spread, TTFT)
    # Without a spread every TTFT is 110 ms plus scheduling delay: on a loaded host (the suite
    # runs two workers on two cores) a few may slip into the next bucket, never below.
    assert sum(n for bound, n in fixed_counts.items() if bound <= 0.1) == 0
    assert fixed_counts.get(0.25, 0) >= 36
    assert len([n for n in spread_counts.values() if n]) >= 3
    # The median stays near ttft_ms: a fair share of the draws lands on each side of it.
    assert sum(n for bound, n in spread_counts.items() if bound <= 0.1) >= 8
    assert sum(n for bound, n in spread_counts.items() if bound > 0.25) >= 4


def test_a_seed_makes_the_latency_draws_repeat():
    config = SimulatorConfig(ttft_sigma=0.5, itl_sigma=0.3, error_rate=0.5, seed=11)

    def draws() -> list:
        engine = Engine(lambda: config, SimulatorMetrics(config.model), config.seed)
        return [engine.draw(config) for _ in range(20)]

    first, second = draws(), draws()

    assert first == second
    assert len({d.ttft_multiplier for d in first}) == 20
    assert len({d.itl_multiplier for d in first}) == 20
    assert {d.fails for d in first} == {True, False}


def test_zero_sigmas_draw_no_multiplier_and_keep_the_error_draws_of_a_seed():
    config = SimulatorConfig(error_rate=0.5, seed=7)
    engine = Engine(lambda: config, SimulatorMetrics(config.model), config.seed)
    plain = random.Random(7)

    draws = [engine.draw(config) for _ in range(20)]

    assert {(d.ttft_multiplier, d.itl_multiplier) for d in draws} == {(1.0, 1.0)}
    assert [d.fails for d in draws] == [plain.random() < 0.5 for _ in range(20)]


def test_latency_factor_multiplies_both_parts_of_the_ttft_and_the_itl():
    base = SimulatorConfig(ttft_ms=40, itl_ms=10, prefill_tokens_per_s=1000)
    slower = base.with_runtime_changes(latency_factor=2.0)

    assert base.prefill_seconds(40) == pytest.approx(0.04 + 0.04)
    assert slower.prefill_seconds(40) == pytest.approx(2 * base.prefill_seconds(40))
    assert slower.prefill_seconds(40, ttft_multiplier=1.5) == pytest.approx(2 * (0.06 + 0.04))
    assert slower.itl_seconds() == pytest.approx(0.02)
    assert slower.itl_seconds(itl_multiplier=0.5) == pytest.approx(0.01)


def test_latency_factor_two_doubles_the_observed_ttft_and_itl(start):
    # 40 ms fixed + 160 characters (40 tokens) at 1000 tokens/s = 80 ms of TTFT.
    sim = start(ttft_ms=40, itl_ms=10, prefill_tokens_per_s=1000)
    request = {"prompt": "x" * 160, "max_tokens": 3}

    post(sim, "/v1/completions", request)
    ttft_1 = metric(sim, f"{TTFT}_sum")
    itl_1 = metric(sim, "vllm:inter_token_latency_seconds_sum")
    sim.reconfigure(latency_factor=2.0)
    post(sim, "/v1/completions", request)
    ttft_2 = metric(sim, f"{TTFT}_sum") - ttft_1
    itl_2 = metric(sim, "vllm:inter_token_latency_seconds_sum") - itl_1

    assert 0.08 <= ttft_1 < 0.16 <= ttft_2
    assert 2 * 0.01 <= itl_1 < 2 * 0.02 <= itl_2


def test_new_latency_fields_change_at_runtime_by_call_and_by_http(sim):
    sim.reconfigure(latency_factor=1.5, ttft_sigma=0.4)
    response = post(sim, "/sim/config", {"itl_sigma": 0.2, "latency_factor": 3})

    assert response.status == 200
    assert response.json()["latency_factor"] == 3.0
    assert get(sim, "/sim/config").json()["itl_sigma"] == 0.2
    assert (sim.config.latency_factor, sim.config.ttft_sigma, sim.config.itl_sigma) == (
        3.0,
        0.4,
        0.2,
    )
    assert post(sim, "/v1/completions", {"prompt": "x", "max_tokens": 2}).status == 200


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("latency_factor", 0),
        ("latency_factor", -1.0),
        ("latency_factor", math.inf),
        ("latency_factor", "2"),
        ("ttft_sigma", -0.1),
        ("ttft_sigma", math.nan),
        ("itl_sigma", 3.5),
        ("itl_sigma", True),
    ],
)
def test_bad_latency_values_raise_config_error_naming_the_field(field, value):
    with pytest.raises(ConfigError) as excinfo:
        SimulatorConfig(**{field: value})

    assert excinfo.value.field == field
    with pytest.raises(ConfigError):
        SimulatorConfig().with_runtime_changes(**{field: value})


def test_sim_config_answers_400_for_a_bad_latency_factor(sim):
    response = post(sim, "/sim/config", {"latency_factor": 0})

    assert response.status == 400
    assert response.json()["error"]["param"] == "latency_factor"
    assert sim.config.latency_factor == 1.0


def test_command_line_accepts_the_latency_flags():
    port = free_port()
    flags = ["--latency-factor", "1.5", "--ttft-sigma", "0.4", "--itl-sigma", "0.2"]
    process = subprocess.Popen(
        [sys.executable, "-m", "scaling.vllm_simulator", "--port", str(port), *flags],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert f":{port}" in process.stdout.readline()
        config = call(f"http://127.0.0.1:{port}", "GET", "/sim/config").json()
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()

    assert (config["latency_factor"], config["ttft_sigma"], config["itl_sigma"]) == (1.5, 0.4, 0.2)


def test_command_line_rejects_a_bad_latency_factor_with_usage_error():
    result = subprocess.run(
        [sys.executable, "-m", "scaling.vllm_simulator", "--latency-factor", "0"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode == 2
    assert "latency_factor" in result.stderr
