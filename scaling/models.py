"""Scaling policies: one per endpoint, rendered to a KEDA ScaledObject and read by the
simulator through the same `ScalingSpec`."""

from __future__ import annotations

from datetime import time

from django.db import models

from scaling.spec import ScalingSpec, ScheduleFloor


class ScalingPolicy(models.Model):
    endpoint = models.OneToOneField(
        "endpoints.Endpoint", on_delete=models.CASCADE, related_name="scaling_policy"
    )
    # The preset the values were taken from, if any; the values below are what counts.
    preset = models.CharField(max_length=32, blank=True)
    min_replicas = models.PositiveIntegerField()
    max_replicas = models.PositiveIntegerField()
    target_queue_per_replica = models.FloatField()
    activation_queue = models.FloatField(default=0.0)
    ttft_p95_target_ms = models.PositiveIntegerField(null=True, blank=True)
    target_in_flight_per_replica = models.FloatField(null=True, blank=True)
    target_kv_cache_usage_per_replica = models.FloatField(null=True, blank=True)
    target_prompt_tokens_per_s_per_replica = models.FloatField(null=True, blank=True)
    polling_interval_s = models.PositiveIntegerField()
    cooldown_s = models.PositiveIntegerField()
    scale_up_stabilization_s = models.PositiveIntegerField()
    scale_down_stabilization_s = models.PositiveIntegerField()
    scale_up_pods_per_period = models.PositiveIntegerField()
    scale_up_percent_per_period = models.PositiveIntegerField()
    scale_down_percent_per_period = models.PositiveIntegerField()
    policy_period_s = models.PositiveIntegerField()
    # [{"days": ["mon", ...], "start": "08:00", "end": "18:00", "timezone": "Europe/Paris",
    #   "min_replicas": 1}]
    schedule_floors = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name_plural = "scaling policies"

    def __str__(self) -> str:
        return f"scaling of {self.endpoint_id}"

    def to_spec(self) -> ScalingSpec:
        return ScalingSpec(
            preset=self.preset,
            min_replicas=self.min_replicas,
            max_replicas=self.max_replicas,
            target_queue_per_replica=self.target_queue_per_replica,
            activation_queue=self.activation_queue,
            ttft_p95_target_ms=self.ttft_p95_target_ms,
            target_in_flight_per_replica=self.target_in_flight_per_replica,
            target_kv_cache_usage_per_replica=self.target_kv_cache_usage_per_replica,
            target_prompt_tokens_per_s_per_replica=self.target_prompt_tokens_per_s_per_replica,
            polling_interval_s=self.polling_interval_s,
            cooldown_s=self.cooldown_s,
            scale_up_stabilization_s=self.scale_up_stabilization_s,
            scale_down_stabilization_s=self.scale_down_stabilization_s,
            scale_up_pods_per_period=self.scale_up_pods_per_period,
            scale_up_percent_per_period=self.scale_up_percent_per_period,
            scale_down_percent_per_period=self.scale_down_percent_per_period,
            policy_period_s=self.policy_period_s,
            schedule_floors=tuple(
                ScheduleFloor(
                    days=tuple(floor["days"]),
                    start=time.fromisoformat(floor["start"]),
                    end=time.fromisoformat(floor["end"]),
                    timezone=floor["timezone"],
                    min_replicas=floor.get("min_replicas", 1),
                )
                for floor in self.schedule_floors
            ),
        )
