from __future__ import annotations

from scaling import promql

TARGET = promql.Target(namespace="tenant-acme", revision="chat-r1")
MATCHERS = 'namespace="tenant-acme",revision="chat-r1"'


def test_queue_total_sums_waiting_requests_of_the_revision_and_is_zero_when_empty():
    assert promql.queue_total(TARGET) == (
        f"sum(vllm:num_requests_waiting{{{MATCHERS}}}) or vector(0)"
    )


def test_ttft_p95_is_a_histogram_quantile_over_the_simulated_window_with_nan_as_zero():
    query = promql.ttft_p95(TARGET)
    assert query.startswith("(histogram_quantile(0.95, sum by (le) (")
    assert f"rate(vllm:time_to_first_token_seconds_bucket{{{MATCHERS}}}[1m])" in query
    assert query.endswith(">= 0) or vector(0)")


def test_renamed_metrics_are_read_under_both_names_preferring_the_current_one():
    assert promql.gauge(promql.KV_CACHE_USAGE, TARGET) == (
        f"vllm:kv_cache_usage_perc{{{MATCHERS}}} or vllm:gpu_cache_usage_perc{{{MATCHERS}}}"
    )
    assert promql.bucket_rate(promql.INTER_TOKEN_LATENCY, TARGET, "5m") == (
        f"rate(vllm:inter_token_latency_seconds_bucket{{{MATCHERS}}}[5m])"
        f" or rate(vllm:time_per_output_token_seconds_bucket{{{MATCHERS}}}[5m])"
    )


def test_label_values_are_escaped():
    target = promql.Target(namespace='a"b', revision="c\\d")
    assert target.matchers == 'namespace="a\\"b",revision="c\\\\d"'


ENDPOINT = promql.EndpointTarget(namespace="tenant-acme", endpoint="chat")
ENDPOINT_MATCHERS = 'namespace="tenant-acme",endpoint="chat"'


def test_request_rate_sums_finished_requests_of_every_revision_and_is_zero_when_scaled_down():
    assert promql.request_rate(ENDPOINT, "60s") == (
        f"sum(rate(vllm:request_success_total{{{ENDPOINT_MATCHERS}}}[60s])) or vector(0)"
    )


def test_bucket_increase_counts_observations_per_bucket_over_the_whole_window():
    assert promql.bucket_increase(promql.REQUEST_PROMPT_TOKENS, ENDPOINT, "3600s") == (
        f"sum by (le) (increase(vllm:request_prompt_tokens_bucket{{{ENDPOINT_MATCHERS}}}[3600s]))"
    )


def test_in_flight_total_adds_running_and_waiting_requests_and_is_zero_when_empty():
    assert promql.in_flight_total(TARGET) == (
        f"(sum(vllm:num_requests_running{{{MATCHERS}}})"
        f" + sum(vllm:num_requests_waiting{{{MATCHERS}}})) or vector(0)"
    )
