"""The vLLM-compatible simulator over real HTTP (no database, no Django)."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import threading
import time
from urllib.parse import urlsplit

import pytest
from prometheus_client.parser import text_string_to_metric_families

from scaling.vllm_simulator import ConfigError, SimulatorConfig, VllmSimulator
from tests.servers import free_port
from tests.vllm_simulator.helpers import (
    COUNTERS,
    FAST,
    GAUGES,
    HISTOGRAMS,
    MODEL,
    REPO_ROOT,
    call,
    families,
    get,
    metric,
    post,
    sse_events,
    wait_for,
)


def test_completion_has_openai_shape_and_usage(sim):
    response = post(sim, "/v1/completions", {"model": MODEL, "prompt": "x" * 40, "max_tokens": 5})

    assert response.status == 200
    body = response.json()
    assert body["object"] == "text_completion"
    assert body["id"].startswith("cmpl-")
    assert body["model"] == MODEL
    [choice] = body["choices"]
    assert choice["text"] == "tok tok tok tok tok"
    assert choice["finish_reason"] == "length"
    assert body["usage"] == {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}


def test_token_id_prompts_count_exactly_and_text_batches_give_one_choice_each(sim):
    ids = post(sim, "/v1/completions", {"prompt": [1, 2, 3, 4, 5, 6, 7], "max_tokens": 2})
    batch = post(sim, "/v1/completions", {"prompt": ["a" * 8, "b" * 12], "max_tokens": 3})

    assert ids.json()["usage"]["prompt_tokens"] == 7
    assert [c["index"] for c in batch.json()["choices"]] == [0, 1]
    assert batch.json()["usage"] == {"prompt_tokens": 5, "completion_tokens": 6, "total_tokens": 11}


def test_max_tokens_defaults_to_the_configured_value(start):
    sim = start(default_max_tokens=3)

    body = post(sim, "/v1/completions", {"prompt": "hello"}).json()

    assert body["usage"]["completion_tokens"] == 3


def test_chat_completion_answers_as_assistant_with_usage(sim):
    messages = [{"role": "user", "content": "y" * 30}]

    response = post(sim, "/v1/chat/completions", {"messages": messages, "max_tokens": 4})

    body = response.json()
    assert response.status == 200
    assert body["object"] == "chat.completion"
    assert body["id"].startswith("chatcmpl-")
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "tok tok tok tok"}
    assert body["choices"][0]["finish_reason"] == "length"
    usage = body["usage"]
    assert usage["completion_tokens"] == 4
    assert usage["prompt_tokens"] >= 7  # "user: " + 30 characters at 4 characters a token
    assert usage["total_tokens"] == usage["prompt_tokens"] + 4


def test_streaming_sends_one_chunk_per_token_then_done(sim):
    response = post(sim, "/v1/completions", {"prompt": "hi", "max_tokens": 6, "stream": True})

    assert response.status == 200
    assert response.content_type.startswith("text/event-stream")
    *chunks, done = sse_events(response.body)
    assert done == "[DONE]"
    assert len(chunks) == 6
    parsed = [json.loads(chunk) for chunk in chunks]
    assert "".join(c["choices"][0]["text"] for c in parsed) == "tok tok tok tok tok tok"
    assert [c["choices"][0]["finish_reason"] for c in parsed] == [None] * 5 + ["length"]


def test_streaming_chat_puts_the_role_on_the_first_delta_and_can_report_usage(sim):
    body = {
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 3,
        "stream": True,
        "stream_options": {"include_usage": True},
    }

    *chunks, usage_chunk, done = sse_events(post(sim, "/v1/chat/completions", body).body)

    deltas = [json.loads(chunk)["choices"][0]["delta"] for chunk in chunks]
    first, *rest = deltas
    assert first == {"role": "assistant", "content": "tok"}
    assert rest == [{"content": " tok"}] * 2
    assert json.loads(usage_chunk)["usage"]["completion_tokens"] == 3
    assert done == "[DONE]"


def test_streamed_tokens_arrive_one_inter_token_latency_apart(start):
    sim = start(itl_ms=25)
    address = urlsplit(sim.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    body = json.dumps({"prompt": "hi", "max_tokens": 5, "stream": True})
    connection.request("POST", "/v1/completions", body=body)
    response = connection.getresponse()

    arrivals = []
    for line in response:
        if line.startswith(b"data: {"):
            arrivals.append(time.monotonic())
    connection.close()

    assert len(arrivals) == 5
    assert arrivals[-1] - arrivals[0] >= 4 * 0.025 * 0.9


def test_error_rate_one_always_answers_500_and_counts_no_success(start):
    sim = start(error_rate=1.0)

    responses = [post(sim, "/v1/completions", {"prompt": "x", "max_tokens": 2}) for _ in range(3)]
    streamed = post(sim, "/v1/completions", {"prompt": "x", "stream": True})

    assert [r.status for r in [*responses, streamed]] == [500] * 4
    error = responses[0].json()["error"]
    assert error["type"] == "InternalServerError"
    assert error["code"] == 500
    assert error["message"]
    assert metric(sim, "vllm:request_success_total") == 0
    assert metric(sim, "vllm:time_to_first_token_seconds_count") == 0


def test_error_rate_zero_never_fails(sim):
    statuses = {
        post(sim, "/v1/completions", {"prompt": "x", "max_tokens": 1}).status for _ in range(10)
    }

    assert statuses == {200}
    assert metric(sim, "vllm:request_success_total", finished_reason="length") == 10


def test_a_seed_makes_the_error_draws_repeat(start):
    def outcomes(sim: VllmSimulator) -> list[int]:
        return [
            post(sim, "/v1/completions", {"prompt": "x", "max_tokens": 1}).status for _ in range(8)
        ]

    first = outcomes(start(error_rate=0.5, seed=7))
    second = outcomes(start(error_rate=0.5, seed=7))

    assert first == second
    assert set(first) == {200, 500}


def test_wrong_model_is_404_not_found_error(sim):
    for path, body in [
        ("/v1/completions", {"model": "other/model", "prompt": "x"}),
        ("/v1/chat/completions", {"model": "other/model", "messages": [{"role": "user"}]}),
    ]:
        response = post(sim, path, body)

        assert response.status == 404
        error = response.json()["error"]
        assert error["type"] == "NotFoundError"
        assert error["code"] == 404
        assert "other/model" in error["message"]


@pytest.mark.parametrize(
    ("path", "raw", "param"),
    [
        ("/v1/completions", b"{not json", None),
        ("/v1/completions", b"", None),
        ("/v1/completions", b"[1, 2]", None),
        ("/v1/completions", b'{"prompt": []}', "prompt"),
        ("/v1/completions", b'{"prompt": 5}', "prompt"),
        ("/v1/completions", b'{"prompt": "x", "max_tokens": 0}', "max_tokens"),
        ("/v1/completions", b'{"prompt": "x", "max_tokens": "5"}', "max_tokens"),
        ("/v1/completions", b'{"prompt": "x", "max_tokens": 200000}', "max_tokens"),
        ("/v1/completions", b'{"prompt": "x", "stream": "yes"}', "stream"),
        ("/v1/chat/completions", b'{"messages": []}', "messages"),
        ("/v1/chat/completions", b'{"messages": ["hi"]}', "messages"),
    ],
)
def test_malformed_requests_are_400_bad_request(sim, path, raw, param):
    response = post(sim, path, raw=raw)

    assert response.status == 400
    assert response.content_type == "application/json"
    error = response.json()["error"]
    assert error["type"] == "BadRequestError"
    assert error["code"] == 400
    assert error["param"] == param


def test_unknown_route_is_404_and_wrong_method_405_both_json(sim):
    missing = get(sim, "/v1/embeddings")
    wrong_method = get(sim, "/v1/completions")

    assert missing.status == 404
    assert missing.json()["error"]["code"] == 404
    assert wrong_method.status == 405
    assert wrong_method.json()["error"]["code"] == 405


def test_health_is_empty_200_and_models_lists_the_one_model(sim):
    health = get(sim, "/health")
    models = get(sim, "/v1/models").json()

    assert (health.status, health.body) == (200, b"")
    assert models["object"] == "list"
    assert [(m["id"], m["object"]) for m in models["data"]] == [(MODEL, "model")]


def test_metrics_expose_every_vllm_metric_labelled_with_the_model(sim):
    response = get(sim, "/metrics")
    text = response.body.decode()
    found = {family.name: family for family in text_string_to_metric_families(text)}

    assert response.content_type.startswith("text/plain; version=0.0.4")
    expected = {name: "gauge" for name in GAUGES}
    expected |= {name: "counter" for name in COUNTERS}
    expected |= {name: "histogram" for name in HISTOGRAMS}
    assert {name: found[name].type for name in expected} == expected
    for name in expected:
        assert found[name].samples, name
        assert all(s.labels["model_name"] == MODEL for s in found[name].samples), name
    for counter in ("vllm:request_success_total", "vllm:prompt_tokens_total"):
        assert f"\n{counter}{{" in text
    assert "_created" not in text


def test_counters_and_histograms_grow_by_what_the_requests_did(sim):
    post(sim, "/v1/completions", {"prompt": "x" * 40, "max_tokens": 5})
    post(sim, "/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]})
    chat_prompt_tokens = 2  # "user: hi" is 8 characters
    prompt_tokens, generation_tokens = 10 + chat_prompt_tokens, 5 + 16

    assert metric(sim, "vllm:request_success_total", finished_reason="length") == 2
    assert metric(sim, "vllm:prompt_tokens_total") == prompt_tokens
    assert metric(sim, "vllm:generation_tokens_total") == generation_tokens
    assert metric(sim, "vllm:request_prompt_tokens_sum") == prompt_tokens
    assert metric(sim, "vllm:request_generation_tokens_sum") == generation_tokens
    assert metric(sim, "vllm:inter_token_latency_seconds_count") == (5 - 1) + (16 - 1)
    for histogram in HISTOGRAMS - {"vllm:inter_token_latency_seconds"}:
        assert metric(sim, f"{histogram}_count") == 2, histogram
    assert metric(sim, "vllm:time_to_first_token_seconds_sum") >= 2 * 0.005
    # Nothing runs any more, so nothing holds the KV cache.
    assert metric(sim, "vllm:num_requests_running") == 0
    assert metric(sim, "vllm:kv_cache_usage_perc") == 0


def test_requests_beyond_max_num_seqs_wait_in_the_queue(start):
    sim = start(ttft_ms=300, max_num_seqs=1)
    statuses: list[int] = []

    def complete() -> None:
        statuses.append(post(sim, "/v1/completions", {"prompt": "x", "max_tokens": 1}).status)

    threads = [threading.Thread(target=complete) for _ in range(2)]
    for thread in threads:
        thread.start()
    wait_for(lambda: metric(sim, "vllm:num_requests_waiting") == 1)
    assert metric(sim, "vllm:num_requests_running") == 1
    assert metric(sim, "vllm:kv_cache_usage_perc") > 0
    for thread in threads:
        thread.join()

    assert statuses == [200, 200]
    assert metric(sim, "vllm:num_requests_waiting") == 0
    # The second request queued for the whole of the first one's TTFT; its TTFT includes that.
    assert metric(sim, "vllm:request_queue_time_seconds_sum") >= 0.25
    assert metric(sim, "vllm:time_to_first_token_seconds_sum") >= 0.3 + 0.55


def test_raising_max_num_seqs_at_runtime_admits_the_waiting(start):
    sim = start(ttft_ms=400, max_num_seqs=1)
    threads = [
        threading.Thread(target=post, args=(sim, "/v1/completions", {"prompt": "x"}))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    wait_for(lambda: metric(sim, "vllm:num_requests_waiting") == 1)

    sim.reconfigure(max_num_seqs=2)

    wait_for(lambda: metric(sim, "vllm:num_requests_running") == 2, timeout=0.3)
    for thread in threads:
        thread.join()


def test_legacy_metric_names_swap_exactly_the_two_renamed_metrics(start):
    current = set(families(start()))
    legacy = set(families(start(legacy_metric_names=True)))

    assert current - legacy == {"vllm:kv_cache_usage_perc", "vllm:inter_token_latency_seconds"}
    assert legacy - current == {"vllm:gpu_cache_usage_perc", "vllm:time_per_output_token_seconds"}


def test_sim_config_post_changes_the_ttft_of_the_following_request(sim):
    response = post(sim, "/sim/config", {"ttft_ms": 150})
    began = time.monotonic()
    post(sim, "/v1/completions", {"prompt": "x", "max_tokens": 1})
    elapsed = time.monotonic() - began

    assert response.status == 200
    assert response.json()["ttft_ms"] == 150.0
    assert get(sim, "/sim/config").json()["ttft_ms"] == 150.0
    assert sim.config.ttft_ms == 150.0
    assert elapsed >= 0.15
    assert 0.15 <= metric(sim, "vllm:time_to_first_token_seconds_sum") < 1.0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"ttft_ms": 5, "colour": "red"}, "colour"),
        ({"model": "other/model"}, "model"),
        ({"error_rate": 2}, "error_rate"),
        ({"itl_ms": "slow"}, "itl_ms"),
        ({"max_num_seqs": 0}, "max_num_seqs"),
        ({"self": 1}, "self"),
    ],
)
def test_sim_config_rejects_unknown_fields_and_bad_values_with_400(sim, changes, field):
    response = post(sim, "/sim/config", changes)

    assert response.status == 400
    error = response.json()["error"]
    assert error["param"] == field
    assert f"`{field}`" in error["message"]
    assert sim.config.ttft_ms == FAST["ttft_ms"]  # nothing of a rejected change applies


def test_reconfigure_makes_an_instance_error_prone_at_runtime(sim):
    sim.reconfigure(error_rate=1.0)
    failing = post(sim, "/v1/completions", {"prompt": "x"})
    sim.reconfigure(error_rate=0.0)
    passing = post(sim, "/v1/completions", {"prompt": "x"})

    assert (failing.status, passing.status) == (500, 200)
    with pytest.raises(ConfigError):
        sim.reconfigure(default_max_tokens=5)


def test_config_rejects_out_of_range_values():
    with pytest.raises(ConfigError) as excinfo:
        SimulatorConfig(error_rate=1.5)
    assert excinfo.value.field == "error_rate"
    with pytest.raises(ConfigError):
        SimulatorConfig(prefill_tokens_per_s=0)


def test_two_instances_in_one_process_keep_separate_metrics(start):
    first, second = start(model="org/first"), start(model="org/second")

    post(first, "/v1/completions", {"model": "org/first", "prompt": "x", "max_tokens": 1})
    post(first, "/v1/completions", {"model": "org/first", "prompt": "x", "max_tokens": 1})

    assert metric(first, "vllm:request_success_total", model_name="org/first") == 2
    assert metric(second, "vllm:request_success_total") == 0
    assert metric(second, "vllm:request_success_total", model_name="org/first") == 0


def test_context_manager_starts_and_stops():
    with VllmSimulator(SimulatorConfig(**FAST)) as sim:
        assert get(sim, "/health").status == 200
    with pytest.raises(RuntimeError):
        _ = sim.url


def test_command_line_serves_until_terminated():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "scaling.vllm_simulator", "--port", str(port), "--ttft-ms", "5"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        announced = process.stdout.readline()
        assert f"http://127.0.0.1:{port}" in announced
        assert call(f"http://127.0.0.1:{port}", "GET", "/health").status == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()
    assert process.returncode == 0


def test_package_runs_without_django():
    check = "import sys, scaling.vllm_simulator; sys.exit('django' in sys.modules)"

    assert subprocess.run([sys.executable, "-c", check], cwd=REPO_ROOT).returncode == 0
