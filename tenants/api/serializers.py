from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from control_plane.api.serializers import DocumentedPatternField, StrictInputSerializer
from control_plane.quantities import (
    CPU_PATTERN,
    MEMORY_PATTERN,
    QuantityError,
    format_cpu,
    format_memory,
    parse_cpu_millicores,
    parse_memory_bytes,
)
from tenants.models import (
    DNS1123_LABEL_PATTERN,
    MIG_PROFILES,
    SLUG_MAX_LENGTH,
    ApiKey,
    Membership,
    Quota,
    Tenant,
)
from tenants.services import QuotaValues


class ConditionSerializer(serializers.Serializer):
    type = serializers.CharField()
    status = serializers.CharField()
    reason = serializers.CharField()
    message = serializers.CharField(allow_blank=True)
    last_transition_time = serializers.CharField()


class ResourceAmountsSerializer(serializers.Serializer):
    gpus = serializers.IntegerField(min_value=0)
    mig_slices = serializers.DictField(child=serializers.IntegerField(min_value=0))
    max_endpoints = serializers.IntegerField(min_value=0)
    cpu = serializers.CharField()
    memory = serializers.CharField()


class QuotaSerializer(StrictInputSerializer):
    """A quota as people write it: whole GPUs, MIG slices per profile, Kubernetes quantities."""

    gpus = serializers.IntegerField(min_value=0, max_value=100_000)
    mig_slices = serializers.DictField(
        child=serializers.IntegerField(min_value=0, max_value=100_000), required=False, default={}
    )
    max_endpoints = serializers.IntegerField(min_value=0, max_value=10_000)
    cpu = DocumentedPatternField(
        pattern=CPU_PATTERN, max_length=32, help_text="CPU cores, e.g. '64' or '500m'."
    )
    memory = DocumentedPatternField(
        pattern=MEMORY_PATTERN, max_length=32, help_text="Memory, e.g. '256Gi'."
    )

    def validate_mig_slices(self, value: dict) -> dict:
        unknown = sorted(set(value) - set(MIG_PROFILES))
        if unknown:
            raise serializers.ValidationError(
                f"unknown MIG profile {unknown[0]!r}; known: {', '.join(MIG_PROFILES)}"
            )
        return value

    def validate_cpu(self, value: str) -> int:
        try:
            return parse_cpu_millicores(value)
        except QuantityError as error:
            raise serializers.ValidationError(str(error)) from None

    def validate_memory(self, value: str) -> int:
        try:
            return parse_memory_bytes(value)
        except QuantityError as error:
            raise serializers.ValidationError(str(error)) from None

    def to_values(self) -> QuotaValues:
        data = self.validated_data
        return QuotaValues(
            gpus=data["gpus"],
            mig_slices={profile: count for profile, count in data["mig_slices"].items() if count},
            max_endpoints=data["max_endpoints"],
            cpu_millicores=data["cpu"],
            memory_bytes=data["memory"],
        )

    @staticmethod
    def render(quota: Quota) -> dict:
        return {
            "gpus": quota.gpus,
            "mig_slices": dict(sorted(quota.mig_slices.items())),
            "max_endpoints": quota.max_endpoints,
            "cpu": format_cpu(quota.cpu_millicores),
            "memory": format_memory(quota.memory_bytes),
        }


class QuotaReadSerializer(serializers.Serializer):
    tenant = serializers.CharField()
    limits = QuotaSerializer()
    committed = ResourceAmountsSerializer(
        help_text="What the tenant's endpoints commit at their maximum scale, canaries included."
    )
    remaining = ResourceAmountsSerializer()
    used = serializers.DictField(
        child=serializers.CharField(),
        allow_null=True,
        help_text="Live usage read back from the namespace's ResourceQuota (null before the "
        "first reconcile).",
    )


class TenantSerializer(serializers.ModelSerializer):
    namespace = serializers.CharField(read_only=True)
    quota = serializers.SerializerMethodField()
    conditions = ConditionSerializer(many=True, read_only=True)

    class Meta:
        model = Tenant
        fields = [
            "slug",
            "display_name",
            "state",
            "namespace",
            "quota",
            "created_at",
            "generation",
            "observed_generation",
            "conditions",
        ]
        read_only_fields = fields

    @extend_schema_field(QuotaSerializer)
    def get_quota(self, tenant: Tenant) -> dict:
        return QuotaSerializer.render(tenant.quota)


class TenantCreateSerializer(StrictInputSerializer):
    slug = DocumentedPatternField(pattern=DNS1123_LABEL_PATTERN, max_length=SLUG_MAX_LENGTH)
    display_name = serializers.CharField(max_length=200)
    quota = QuotaSerializer(required=False)


class TenantUpdateSerializer(StrictInputSerializer):
    display_name = serializers.CharField(max_length=200, required=False)
    state = serializers.ChoiceField(choices=["active", "suspended"], required=False)


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)

    class Meta:
        model = Membership
        fields = ["username", "role", "created_at"]
        read_only_fields = fields


class MembershipCreateSerializer(StrictInputSerializer):
    username = serializers.CharField(max_length=150)
    role = serializers.ChoiceField(choices=Membership.Role.choices)


class MembershipUpdateSerializer(StrictInputSerializer):
    role = serializers.ChoiceField(choices=Membership.Role.choices)


class ApiKeySerializer(serializers.ModelSerializer):
    revoked = serializers.SerializerMethodField()

    class Meta:
        model = ApiKey
        fields = [
            "prefix",
            "name",
            "created_at",
            "expires_at",
            "revoked_at",
            "revoked",
            "last_used_at",
        ]
        read_only_fields = fields

    def get_revoked(self, key: ApiKey) -> bool:
        return key.revoked_at is not None


class ApiKeyCreateSerializer(StrictInputSerializer):
    name = serializers.CharField(max_length=100)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)

    def validate_expires_at(self, value):
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("must be in the future")
        return value


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.CharField(help_text="The key itself. Shown once; store it now.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]
        read_only_fields = fields
