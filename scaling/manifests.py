"""KEDA objects rendered from a `ScalingSpec`: the ScaledObject and the HTTP add-on's
InterceptorRoute. Pure: no I/O, no settings (addresses come in a RenderContext).

The ScaledObject reads every number from the same `ScalingSpec` the autoscaling simulator runs,
so what is simulated is what is deployed. Field names follow
https://keda.sh/docs/latest/reference/scaledobject-spec/ and the CRDs in ../shared/crds/.
"""

from __future__ import annotations

from collections.abc import Mapping

from control_plane.render_context import RenderContext
from scaling.spec import WEEKDAYS, ScalingSpec, ScheduleFloor
from tenants.manifests import object_meta

# After this many consecutive failed polls of a trigger (Prometheus unreachable, an error rather
# than an empty result) KEDA feeds the HPA the fallback replica count.
FALLBACK_FAILURE_THRESHOLD = 3

# Cron day-of-week numbers (0 is Sunday), as KEDA's cron scaler reads them.
_CRON_DAY = {day: (index + 1) % 7 for index, day in enumerate(WEEKDAYS)}


def _number(value: float) -> str:
    """Trigger metadata is a map of strings; KEDA parses thresholds as floats."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _behavior(spec: ScalingSpec) -> dict:
    """HPA behavior (https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/
    #configurable-scaling-behavior): scale-up takes the larger of the Pods and Percent step
    (selectPolicy Max), as the simulator's `scale_up_limit` does."""
    period = spec.policy_period_s
    return {
        "scaleUp": {
            "stabilizationWindowSeconds": spec.scale_up_stabilization_s,
            "selectPolicy": "Max",
            "policies": [
                {"type": "Pods", "value": spec.scale_up_pods_per_period, "periodSeconds": period},
                {
                    "type": "Percent",
                    "value": spec.scale_up_percent_per_period,
                    "periodSeconds": period,
                },
            ],
        },
        "scaleDown": {
            "stabilizationWindowSeconds": spec.scale_down_stabilization_s,
            "selectPolicy": "Max",
            "policies": [
                {
                    "type": "Percent",
                    "value": spec.scale_down_percent_per_period,
                    "periodSeconds": period,
                }
            ],
        },
    }


def _prometheus_trigger(name: str, query: str, threshold: float, address: str) -> dict:
    return {
        "type": "prometheus",
        "name": name,
        "metricType": "AverageValue",
        "metadata": {
            "serverAddress": address,
            "query": query,
            "threshold": _number(threshold),
        },
    }


def _cron_trigger(index: int, floor: ScheduleFloor) -> dict:
    """A schedule floor as KEDA's cron scaler: `desiredReplicas` between start and end on the
    floor's days (https://keda.sh/docs/latest/scalers/cron/)."""
    days = ",".join(str(_CRON_DAY[day]) for day in floor.days)
    return {
        "type": "cron",
        "name": f"floor-{index}",
        "metadata": {
            "timezone": floor.timezone,
            "start": f"{floor.start.minute} {floor.start.hour} * * {days}",
            "end": f"{floor.end.minute} {floor.end.hour} * * {days}",
            "desiredReplicas": str(floor.min_replicas),
        },
    }


def scaled_object(
    spec: ScalingSpec,
    *,
    name: str,
    namespace: str,
    deployment: str,
    labels: Mapping[str, str],
    queue_query: str,
    ttft_query: str,
    in_flight_query: str,
    interceptor_route: str | None,
    kv_cache_query: str | None = None,
    prompt_tokens_query: str | None = None,
    context: RenderContext,
) -> dict:
    """The ScaledObject of one Deployment.

    Triggers: the per-replica queue (AverageValue, with the spec's activation threshold), TTFT
    p95, requests in flight, KV-cache usage and prompt tokens per second per replica when the
    spec has targets for them, one cron trigger
    per schedule floor, and, when
    `interceptor_route` is given, the HTTP add-on's `external-push` trigger whose pending
    requests wake a Deployment at zero replicas (no vLLM metric exists then).
    """
    prometheus = context.keda_prometheus_address
    queue = _prometheus_trigger("queue", queue_query, spec.target_queue_per_replica, prometheus)
    # At or below the activation threshold KEDA treats the trigger as inactive, which is what
    # lets a scale-to-zero Deployment reach zero after the cooldown.
    queue["metadata"]["activationThreshold"] = _number(spec.activation_queue)
    triggers = [queue]
    if spec.ttft_p95_target_ms is not None:
        triggers.append(
            _prometheus_trigger("ttft-p95", ttft_query, spec.ttft_p95_target_ms / 1000, prometheus)
        )
    if spec.target_in_flight_per_replica is not None:
        triggers.append(
            _prometheus_trigger(
                "in-flight", in_flight_query, spec.target_in_flight_per_replica, prometheus
            )
        )
    if spec.target_kv_cache_usage_per_replica is not None:
        if kv_cache_query is None:
            raise ValueError("a KV-cache target needs the KV-cache query")
        triggers.append(
            _prometheus_trigger(
                "kv-cache", kv_cache_query, spec.target_kv_cache_usage_per_replica, prometheus
            )
        )
    if spec.target_prompt_tokens_per_s_per_replica is not None:
        if prompt_tokens_query is None:
            raise ValueError("a prompt-token target needs the prompt-token rate query")
        triggers.append(
            _prometheus_trigger(
                "prompt-tokens",
                prompt_tokens_query,
                spec.target_prompt_tokens_per_s_per_replica,
                prometheus,
            )
        )
    triggers.extend(_cron_trigger(i, floor) for i, floor in enumerate(spec.schedule_floors))
    if interceptor_route is not None:
        triggers.append(
            {
                "type": "external-push",
                "name": "interceptor",
                "metadata": {
                    "interceptorRoute": interceptor_route,
                    "scalerAddress": context.keda_http_scaler_address,
                },
            }
        )
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": object_meta(name, namespace, labels),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment},
            "minReplicaCount": spec.min_replicas,
            "maxReplicaCount": spec.max_replicas,
            "pollingInterval": spec.polling_interval_s,
            "cooldownPeriod": spec.cooldown_s,
            # Only errors count towards the threshold: an empty query result is a deliberate 0
            # (scaling/promql.py). During an outage keep what runs, and at least one replica
            # (or the minimum), rather than scaling a serving endpoint down blind.
            "fallback": {
                "failureThreshold": FALLBACK_FAILURE_THRESHOLD,
                "replicas": max(1, spec.min_replicas),
                "behavior": "currentReplicasIfHigher",
            },
            "advanced": {"horizontalPodAutoscalerConfig": {"behavior": _behavior(spec)}},
            "triggers": triggers,
        },
    }


def interceptor_route(
    *,
    name: str,
    namespace: str,
    labels: Mapping[str, str],
    host: str,
    service: str,
    port: int,
    readiness_timeout_s: int,
    response_header_timeout_s: int,
    concurrency_target: int,
) -> dict:
    """The HTTP add-on's InterceptorRoute (http.keda.sh/v1beta1) for a scale-to-zero endpoint.

    The interceptor matches requests by host and holds them while the target has no ready pod,
    up to `readiness_timeout_s`; `response_header_timeout_s` then bounds the wait for vLLM's
    response headers, which a non-streamed completion only sends once generation is done
    (https://keda.sh/http-add-on/latest/user-guide/configure-timeouts/). The overall request
    timeout stays unset (the add-on's default: none) so long streams are not cut.

    `scalingMetric` is required by the CRD; the add-on's scaler reports it to the HPA through the
    ScaledObject's external-push trigger. `concurrency_target` should be the concurrency at
    which a replica is full and has its target queue: then this metric never asks for more
    replicas than the queue trigger or the current count, and the queue trigger keeps driving
    scale-out as simulated.
    """
    return {
        "apiVersion": "http.keda.sh/v1beta1",
        "kind": "InterceptorRoute",
        "metadata": object_meta(name, namespace, labels),
        "spec": {
            "target": {"service": service, "port": port},
            "rules": [{"hosts": [host]}],
            "scalingMetric": {"concurrency": {"targetValue": concurrency_target}},
            "timeouts": {
                "readiness": f"{readiness_timeout_s}s",
                "responseHeader": f"{response_header_timeout_s}s",
            },
        },
    }
