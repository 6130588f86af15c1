from __future__ import annotations

from datetime import time

import pytest

from scaling.manifests import interceptor_route, scaled_object
from scaling.presets import PRESETS
from scaling.spec import ScalingSpec, ScheduleFloor
from tests.manifests.builders import CONTEXT
from tests.manifests.validation import validate_all

WEEKDAYS_9_TO_6 = ScheduleFloor(
    days=("mon", "tue", "wed", "thu", "fri"),
    start=time(9, 0),
    end=time(18, 30),
    timezone="Europe/Paris",
    min_replicas=2,
)


def render(
    spec: ScalingSpec,
    route: str | None = None,
    kv_cache_query: str | None = "KV",
    prompt_tokens_query: str | None = "PROMPT",
) -> dict:
    return scaled_object(
        spec,
        name="chat-r1",
        namespace="tenant-acme",
        deployment="chat-r1",
        labels={"llm-control-plane/tenant": "acme"},
        queue_query="QUEUE",
        ttft_query="TTFT",
        in_flight_query="IN_FLIGHT",
        kv_cache_query=kv_cache_query,
        prompt_tokens_query=prompt_tokens_query,
        interceptor_route=route,
        context=CONTEXT,
    )


def triggers(obj: dict, kind: str) -> list[dict]:
    return [t for t in obj["spec"]["triggers"] if t["type"] == kind]


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_scaled_object_reads_the_numbers_the_simulator_runs(preset):
    spec = PRESETS[preset].with_changes(ttft_p95_target_ms=1500)
    obj = render(spec)["spec"]
    assert obj["minReplicaCount"] == spec.min_replicas
    assert obj["maxReplicaCount"] == spec.max_replicas
    assert obj["pollingInterval"] == spec.polling_interval_s
    assert obj["cooldownPeriod"] == spec.cooldown_s
    behavior = obj["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    up, down = behavior["scaleUp"], behavior["scaleDown"]
    assert up["stabilizationWindowSeconds"] == spec.scale_up_stabilization_s
    assert down["stabilizationWindowSeconds"] == spec.scale_down_stabilization_s
    assert up["selectPolicy"] == "Max"
    assert {(p["type"], p["value"], p["periodSeconds"]) for p in up["policies"]} == {
        ("Pods", spec.scale_up_pods_per_period, spec.policy_period_s),
        ("Percent", spec.scale_up_percent_per_period, spec.policy_period_s),
    }
    assert [(p["type"], p["value"], p["periodSeconds"]) for p in down["policies"]] == [
        ("Percent", spec.scale_down_percent_per_period, spec.policy_period_s)
    ]
    by_name = {t["name"]: t for t in triggers(render(spec), "prometheus")}
    queue, ttft = by_name["queue"], by_name["ttft-p95"]
    assert queue["metadata"]["query"] == "QUEUE"
    assert float(queue["metadata"]["threshold"]) == spec.target_queue_per_replica
    assert float(queue["metadata"]["activationThreshold"]) == spec.activation_queue
    assert ttft["metadata"]["query"] == "TTFT"
    assert float(ttft["metadata"]["threshold"]) == spec.ttft_p95_target_ms / 1000
    kv = spec.target_kv_cache_usage_per_replica
    if kv is None:
        assert "kv-cache" not in by_name
    else:
        assert float(by_name["kv-cache"]["metadata"]["threshold"]) == kv
    prompt = spec.target_prompt_tokens_per_s_per_replica
    if prompt is None:
        assert "prompt-tokens" not in by_name
    else:
        assert float(by_name["prompt-tokens"]["metadata"]["threshold"]) == prompt


def test_prometheus_triggers_are_average_values_against_the_cluster_prometheus():
    obj = render(ScalingSpec(ttft_p95_target_ms=800))
    prometheus = triggers(obj, "prometheus")
    assert len(prometheus) == 2
    for trigger in prometheus:
        assert trigger["metricType"] == "AverageValue"
        assert trigger["metadata"]["serverAddress"] == CONTEXT.keda_prometheus_address
    assert prometheus[1]["metadata"]["threshold"] == "0.8"


def test_no_ttft_or_in_flight_trigger_without_a_target():
    assert [t["name"] for t in triggers(render(ScalingSpec()), "prometheus")] == ["queue"]


def test_in_flight_trigger_averages_running_and_waiting_requests_per_replica():
    obj = render(ScalingSpec(target_in_flight_per_replica=64))
    (in_flight,) = [t for t in triggers(obj, "prometheus") if t["name"] == "in-flight"]
    assert in_flight["metricType"] == "AverageValue"
    assert in_flight["metadata"]["query"] == "IN_FLIGHT"
    assert in_flight["metadata"]["threshold"] == "64"
    # KEDA's default activation threshold (0) keeps it active while any request is in flight,
    # as the simulator's autoscaler assumes.
    assert "activationThreshold" not in in_flight["metadata"]


def test_fallback_keeps_at_least_one_replica_when_metrics_fail():
    fallback = render(ScalingSpec(min_replicas=0))["spec"]["fallback"]
    assert fallback["replicas"] == 1
    assert fallback["failureThreshold"] > 0
    assert fallback["behavior"] == "currentReplicasIfHigher"
    assert render(ScalingSpec(min_replicas=3))["spec"]["fallback"]["replicas"] == 3


def test_schedule_floors_become_cron_triggers():
    spec = ScalingSpec(
        schedule_floors=(
            WEEKDAYS_9_TO_6,
            ScheduleFloor(("sat", "sun"), time(10, 0), time(12, 0), "UTC"),
        )
    )
    weekdays, weekend = triggers(render(spec), "cron")
    assert weekdays["metadata"] == {
        "timezone": "Europe/Paris",
        "start": "0 9 * * 1,2,3,4,5",
        "end": "30 18 * * 1,2,3,4,5",
        "desiredReplicas": "2",
    }
    assert weekend["metadata"]["start"] == "0 10 * * 6,0"
    assert weekend["metadata"]["desiredReplicas"] == "1"


def test_external_push_trigger_only_with_an_interceptor_route():
    assert triggers(render(ScalingSpec(min_replicas=0)), "external-push") == []
    (push,) = triggers(render(ScalingSpec(min_replicas=0), route="chat"), "external-push")
    assert push["metadata"] == {
        "interceptorRoute": "chat",
        "scalerAddress": CONTEXT.keda_http_scaler_address,
    }


@pytest.mark.parametrize(
    "spec",
    [
        ScalingSpec(),
        ScalingSpec(min_replicas=1, ttft_p95_target_ms=2000, schedule_floors=(WEEKDAYS_9_TO_6,)),
        ScalingSpec(min_replicas=0, target_in_flight_per_replica=48.5),
    ],
)
def test_scaled_objects_validate(spec):
    validate_all([render(spec, route="chat" if spec.scales_to_zero else None)])


def test_interceptor_route_validates_and_holds_cold_requests():
    route = interceptor_route(
        name="chat",
        namespace="tenant-acme",
        labels={},
        host="chat.acme.inference.example.com",
        service="chat-r1",
        port=80,
        readiness_timeout_s=540,
        response_header_timeout_s=300,
        concurrency_target=261,
    )
    validate_all([route])
    assert route["spec"]["target"] == {"service": "chat-r1", "port": 80}
    assert route["spec"]["rules"] == [{"hosts": ["chat.acme.inference.example.com"]}]
    assert route["spec"]["timeouts"] == {"readiness": "540s", "responseHeader": "300s"}
    assert route["spec"]["scalingMetric"] == {"concurrency": {"targetValue": 261}}


def test_rendering_is_deterministic():
    spec = ScalingSpec(ttft_p95_target_ms=900, schedule_floors=(WEEKDAYS_9_TO_6,))
    assert render(spec, route="chat") == render(spec, route="chat")


def test_kv_cache_trigger_averages_the_cache_usage_per_replica_and_validates():
    obj = render(ScalingSpec(target_kv_cache_usage_per_replica=0.75))
    (kv,) = [t for t in triggers(obj, "prometheus") if t["name"] == "kv-cache"]
    assert kv["metricType"] == "AverageValue"
    assert kv["metadata"]["query"] == "KV"
    assert kv["metadata"]["threshold"] == "0.75"
    validate_all([obj])


def test_a_kv_cache_target_without_its_query_is_refused():
    with pytest.raises(ValueError, match="KV-cache query"):
        render(ScalingSpec(target_kv_cache_usage_per_replica=0.75), kv_cache_query=None)


def test_prompt_token_trigger_averages_the_prompt_token_rate_per_replica_and_validates():
    obj = render(ScalingSpec(target_prompt_tokens_per_s_per_replica=8000))
    (prompt,) = [t for t in triggers(obj, "prometheus") if t["name"] == "prompt-tokens"]
    assert prompt["metricType"] == "AverageValue"
    assert prompt["metadata"]["query"] == "PROMPT"
    assert float(prompt["metadata"]["threshold"]) == 8000
    validate_all([obj])


def test_a_prompt_token_target_without_its_query_is_refused():
    with pytest.raises(ValueError, match="prompt-token rate query"):
        render(ScalingSpec(target_prompt_tokens_per_s_per_replica=8000), prompt_tokens_query=None)
