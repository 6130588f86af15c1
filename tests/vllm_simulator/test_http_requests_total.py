"""`http_requests_total`, the per-route status counter of vLLM's OpenAI server."""

from __future__ import annotations

import json
import threading
import time

from tests.vllm_simulator.helpers import call, families, get, metric, post, sse_events, wait_for

COUNTER = "http_requests_total"
COMPLETIONS = "/v1/completions"
CHAT = "/v1/chat/completions"


def responses(sim, **labels: str) -> float:
    return metric(sim, COUNTER, **labels)


def test_completion_series_exist_at_zero_from_the_first_scrape_without_model_labels(sim):
    samples = [s for s in families(sim)["http_requests"].samples if s.name == COUNTER]

    assert {(s.labels["handler"], s.labels["status"]) for s in samples} == {
        (handler, status) for handler in (COMPLETIONS, CHAT) for status in ("2xx", "4xx", "5xx")
    }
    assert {s.value for s in samples} == {0.0}
    assert {frozenset(s.labels) for s in samples} == {frozenset({"method", "status", "handler"})}
    assert {s.labels["method"] for s in samples} == {"POST"}


def test_each_answered_request_counts_once_under_its_route_and_status_group(sim):
    post(sim, COMPLETIONS, {"prompt": "x", "max_tokens": 1})
    post(sim, COMPLETIONS, {"prompt": "x", "max_tokens": 2, "stream": True})
    post(sim, CHAT, {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1})
    get(sim, "/v1/models")
    post(sim, COMPLETIONS, {"prompt": "x", "max_tokens": 0})  # 400
    post(sim, COMPLETIONS, {"model": "other/model", "prompt": "x"})  # 404

    assert responses(sim, handler=COMPLETIONS, status="2xx", method="POST") == 2
    assert responses(sim, handler=COMPLETIONS, status="4xx", method="POST") == 2
    assert responses(sim, handler=CHAT, status="2xx") == 1
    assert responses(sim, handler="/v1/models", status="2xx", method="GET") == 1
    assert responses(sim) == 6


def test_error_rate_one_counts_5xx_and_no_2xx(start):
    sim = start(error_rate=1.0)

    for _ in range(3):
        post(sim, COMPLETIONS, {"prompt": "x", "max_tokens": 1})
    post(sim, COMPLETIONS, {"prompt": "x", "max_tokens": 1, "stream": True})
    post(sim, CHAT, {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1})

    assert responses(sim, handler=COMPLETIONS, status="5xx") == 4
    assert responses(sim, handler=CHAT, status="5xx") == 1
    assert responses(sim, status="2xx") == 0


def test_metrics_health_and_sim_config_requests_are_not_counted(sim):
    for _ in range(3):
        get(sim, "/metrics")
    get(sim, "/health")
    get(sim, "/sim/config")
    post(sim, "/sim/config", {"ttft_ms": 5})

    assert responses(sim) == 0


def test_unknown_paths_and_wrong_methods_count_under_handler_none(sim):
    get(sim, "/v1/embeddings")
    get(sim, COMPLETIONS)  # 405: the path matches, the method does not
    call(sim.url, "DELETE", "/v1/models")

    assert responses(sim, handler="none", status="4xx", method="GET") == 2
    assert responses(sim, handler="none", status="4xx", method="DELETE") == 1
    assert responses(sim, handler=COMPLETIONS, method="GET") == 0


def test_a_stream_that_fails_after_it_began_counts_as_the_2xx_it_was_sent_as(start):
    # Two prompts, one slot: the first admitted succeeds and starts the stream; the second,
    # admitted once the first ends, draws after error_rate became 1 and fails mid-stream.
    sim = start(ttft_ms=150, max_num_seqs=1)
    result = {}

    def stream() -> None:
        body = {"prompt": ["a", "b"], "max_tokens": 1, "stream": True}
        result["response"] = post(sim, COMPLETIONS, body)

    thread = threading.Thread(target=stream)
    thread.start()
    wait_for(lambda: metric(sim, "vllm:num_requests_waiting") == 1)
    # The running sequence reads the config just after its admission; leave it time to do so
    # (well inside its 150 ms prefill) before the change that only the second one may see.
    time.sleep(0.03)
    sim.reconfigure(error_rate=1.0)
    thread.join()

    response = result["response"]
    *events, done = sse_events(response.body)
    assert response.status == 200
    assert json.loads(events[-1])["error"]["code"] == 500
    assert done == "[DONE]"
    assert responses(sim, handler=COMPLETIONS, status="2xx") == 1
    assert responses(sim, status="5xx") == 0
