from __future__ import annotations

from rest_framework import serializers

from control_plane.api.serializers import StrictInputSerializer
from scaling.policy import FIELD_RULES, FieldRule
from scaling.presets import PRESETS
from scaling.spec import WEEKDAYS


class ScheduleFloorSerializer(StrictInputSerializer):
    days = serializers.ListField(child=serializers.ChoiceField(choices=WEEKDAYS), min_length=1)
    start = serializers.RegexField(r"^\d{2}:\d{2}$", help_text="Local time, e.g. '08:00'.")
    end = serializers.RegexField(
        r"^\d{2}:\d{2}$",
        help_text="Local time, e.g. '18:00'; later than `start` on the same day (a floor over "
        "midnight is two floors).",
    )
    timezone = serializers.CharField(max_length=64, help_text="IANA zone, e.g. 'Europe/Paris'.")
    min_replicas = serializers.IntegerField(min_value=1, max_value=1000, default=1)


def _policy_field(rule: FieldRule) -> serializers.Field:
    if rule.kind is int:
        return serializers.IntegerField(
            min_value=int(rule.minimum),
            max_value=int(rule.maximum),
            required=False,
            allow_null=rule.nullable,
            help_text=rule.help_text or None,
        )
    return serializers.FloatField(
        min_value=rule.minimum,
        max_value=rule.maximum,
        required=False,
        allow_null=rule.nullable,
        help_text=rule.help_text or None,
    )


class ScalingPolicyInputSerializer(StrictInputSerializer):
    """A preset, then any field to override. Omitted fields keep the preset's (on create) or the
    current policy's (on update) value. Types and bounds come from `scaling.policy.FIELD_RULES`,
    the rules `parse_policy` applies, so the schema and the parser cannot disagree."""

    preset = serializers.ChoiceField(choices=sorted(PRESETS), required=False)
    schedule_floors = ScheduleFloorSerializer(many=True, required=False)

    def get_fields(self) -> dict[str, serializers.Field]:
        declared = super().get_fields()
        fields = {"preset": declared.pop("preset")}
        fields.update({name: _policy_field(rule) for name, rule in FIELD_RULES.items()})
        fields.update(declared)
        return fields


class ScalingPolicySerializer(serializers.Serializer):
    preset = serializers.CharField(allow_blank=True)
    min_replicas = serializers.IntegerField()
    max_replicas = serializers.IntegerField()
    target_queue_per_replica = serializers.FloatField()
    activation_queue = serializers.FloatField()
    ttft_p95_target_ms = serializers.IntegerField(allow_null=True)
    target_in_flight_per_replica = serializers.FloatField(allow_null=True)
    target_kv_cache_usage_per_replica = serializers.FloatField(allow_null=True)
    target_prompt_tokens_per_s_per_replica = serializers.FloatField(allow_null=True)
    polling_interval_s = serializers.IntegerField()
    cooldown_s = serializers.IntegerField()
    scale_up_stabilization_s = serializers.IntegerField()
    scale_down_stabilization_s = serializers.IntegerField()
    scale_up_pods_per_period = serializers.IntegerField()
    scale_up_percent_per_period = serializers.IntegerField()
    scale_down_percent_per_period = serializers.IntegerField()
    policy_period_s = serializers.IntegerField()
    schedule_floors = ScheduleFloorSerializer(many=True)


class ScalingComparisonQuerySerializer(serializers.Serializer):
    window_hours = serializers.IntegerField(
        min_value=1, max_value=7 * 24, default=24, help_text="Replay this many hours up to now."
    )
    step_s = serializers.IntegerField(
        min_value=10,
        max_value=3600,
        default=60,
        help_text="Seconds per point of the request-rate series read from Prometheus.",
    )
    slo_ttft_ms = serializers.IntegerField(min_value=1, max_value=600_000, default=1000)
    cold_start = serializers.ChoiceField(choices=("cached", "uncached"), default="cached")
    seed = serializers.IntegerField(min_value=0, max_value=2**31 - 1, default=0)

    MIN_POINTS = 10

    def validate(self, attrs: dict) -> dict:
        points = attrs["window_hours"] * 3600 // attrs["step_s"]
        if points < self.MIN_POINTS:
            raise serializers.ValidationError(
                {
                    "step_s": [
                        f"{attrs['window_hours']} h at step_s={attrs['step_s']} gives {points} "
                        f"point(s) of traffic; a replay needs at least {self.MIN_POINTS}."
                    ]
                }
            )
        return attrs


class PolicyOutcomeSerializer(serializers.Serializer):
    policy = serializers.CharField(help_text="'current' (the endpoint's policy) or a preset.")
    gpu_hours = serializers.FloatField()
    gpu_hours_vs_oracle = serializers.FloatField(allow_null=True)
    oracle_gpu_hours = serializers.FloatField()
    slo_ttft_ms = serializers.FloatField()
    slo_attainment = serializers.FloatField(help_text="Share of requests within the TTFT SLO.")
    ttft_p50_ms = serializers.FloatField()
    ttft_p95_ms = serializers.FloatField()
    ttft_p99_ms = serializers.FloatField()
    cold_starts = serializers.IntegerField()
    cold_start_waiters = serializers.IntegerField()
    requests = serializers.IntegerField()
    served = serializers.IntegerField()
    dropped = serializers.IntegerField()
    peak_queue = serializers.IntegerField()
    peak_replicas = serializers.IntegerField()
    duration_s = serializers.FloatField()


class ScalingComparisonSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    requests = serializers.IntegerField(help_text="Requests in the replay.")
    oracle_gpu_hours = serializers.FloatField()
    policies = PolicyOutcomeSerializer(many=True)
