"""The numbers of one scaling policy, as plain data.

`ScalingSpec` is the single shape shared by the three readers of a policy: the ScalingPolicy
model (`ScalingPolicy.to_spec()`), the KEDA ScaledObject renderer and the autoscaling simulator.
Because all three read the same object, what is simulated is what is deployed.

Defaults follow KEDA and the Kubernetes HPA documentation:
- KEDA `pollingInterval` 30 s and `cooldownPeriod` 300 s
  (https://keda.sh/docs/latest/reference/scaledobject-spec/).
- HPA behavior defaults: scale up with no stabilization, max(100 %, 4 pods) per 15 s; scale down
  with a 300 s stabilization window, 100 % per 15 s
  (https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/#default-behavior).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import time

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class ScheduleFloor:
    """At least `min_replicas` replicas on `days` between `start` and `end` in `timezone`."""

    days: tuple[str, ...]
    start: time
    end: time
    timezone: str
    min_replicas: int = 1

    def as_json(self) -> dict[str, object]:
        return {
            "days": list(self.days),
            "start": self.start.strftime("%H:%M"),
            "end": self.end.strftime("%H:%M"),
            "timezone": self.timezone,
            "min_replicas": self.min_replicas,
        }


@dataclass(frozen=True)
class ScalingSpec:
    min_replicas: int = 0
    max_replicas: int = 4
    # Target of the average `vllm:num_requests_waiting` per replica (KEDA metricType AverageValue).
    target_queue_per_replica: float = 5.0
    # KEDA activationThreshold on the queue metric: at or below it the workload stays at zero.
    activation_queue: float = 0.0
    # Optional second trigger: TTFT p95 target in milliseconds (AverageValue on p95 seconds).
    ttft_p95_target_ms: int | None = None
    # Optional third trigger: target of the average requests in flight per replica (running plus
    # waiting). Running requests rise with load before a replica saturates, so this trigger
    # scales earlier than the queue, which stays at zero until then.
    target_in_flight_per_replica: float | None = None
    # Optional fourth trigger: target of the average KV-cache usage per replica (0-1, vLLM's
    # `vllm:kv_cache_usage_perc`). Long prompts fill a replica's KV cache long before its
    # request slots: at 8k-30k tokens a replica runs ~30 requests, so neither the queue (it stays
    # short) nor the in-flight target (far above 30) sees that it is full.
    target_kv_cache_usage_per_replica: float | None = None
    # Optional fifth trigger: target of the prompt tokens prefilled per second per replica
    # (`rate(vllm:prompt_tokens_total[1m])`). Prefill is the work a prompt waits for before its
    # first token; it rises with the offered load before any request waits, and counts a 16k-token
    # prompt sixteen times a 1k one, where the queue and in-flight counts see one request each.
    target_prompt_tokens_per_s_per_replica: float | None = None
    polling_interval_s: int = 30
    cooldown_s: int = 300
    scale_up_stabilization_s: int = 0
    scale_down_stabilization_s: int = 300
    # HPA step policies; scale-up takes the larger of the two (selectPolicy Max).
    scale_up_pods_per_period: int = 4
    scale_up_percent_per_period: int = 100
    scale_down_percent_per_period: int = 100
    policy_period_s: int = 15
    schedule_floors: tuple[ScheduleFloor, ...] = field(default_factory=tuple)
    # The preset the numbers were taken from, if any: a label for people, so it takes no part in
    # equality (the same numbers are the same policy).
    preset: str = field(default="", compare=False)

    @property
    def scales_to_zero(self) -> bool:
        return self.min_replicas == 0

    def with_changes(self, **changes: object) -> ScalingSpec:
        return replace(self, **changes)

    def as_json(self) -> dict[str, object]:
        """Every field as JSON values (floors with 'HH:MM' times): what the policy row stores,
        the audit trail records and the API answers."""
        values: dict[str, object] = {
            f.name: getattr(self, f.name) for f in fields(self) if f.name != "schedule_floors"
        }
        values["schedule_floors"] = [floor.as_json() for floor in self.schedule_floors]
        return values
