from __future__ import annotations

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
from endpoints.catalog import ModelVersionSpec
from endpoints.models import ENDPOINT_NAME_MAX_LENGTH, Endpoint, ModelVersion, Revision
from endpoints.selectors import active_rollout_of
from scaling.api.serializers import ScalingPolicyInputSerializer, ScalingPolicySerializer
from tenants.api.serializers import ConditionSerializer
from tenants.models import MIG_PROFILES


class EngineArgsSerializer(StrictInputSerializer):
    max_model_len = serializers.IntegerField(min_value=1, max_value=10_000_000, required=False)
    dtype = serializers.CharField(required=False)
    quantization = serializers.CharField(required=False)
    tensor_parallel_size = serializers.IntegerField(min_value=1, max_value=16, required=False)
    gpu_memory_utilization = serializers.FloatField(required=False)
    enable_prefix_caching = serializers.BooleanField(required=False)
    max_num_seqs = serializers.IntegerField(min_value=1, max_value=100_000, required=False)
    max_num_batched_tokens = serializers.IntegerField(
        min_value=1, max_value=10_000_000, required=False
    )


class ModelVersionSerializer(serializers.ModelSerializer):
    tenant = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    engine_args = EngineArgsSerializer()
    cpu = serializers.SerializerMethodField()
    memory = serializers.SerializerMethodField()

    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "tenant",
            "name",
            "version",
            "source",
            "hf_repo",
            "hf_revision",
            "uri",
            "image",
            "engine_args",
            "gpus_per_replica",
            "mig_profile",
            "cpu",
            "memory",
            "expected_load_seconds",
            "state",
            "created_at",
            "created_by",
        ]
        read_only_fields = fields

    def get_cpu(self, version: ModelVersion) -> str:
        return format_cpu(version.cpu_millicores)

    def get_memory(self, version: ModelVersion) -> str:
        return format_memory(version.memory_bytes)


class ModelVersionInputSerializer(StrictInputSerializer):
    tenant = serializers.CharField(
        required=False,
        allow_null=True,
        help_text="Slug of the tenant owning a private entry; omit for a platform-wide entry.",
    )
    name = serializers.RegexField(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", max_length=100)
    version = serializers.RegexField(r"^[A-Za-z0-9]([-A-Za-z0-9._]*[A-Za-z0-9])?$", max_length=64)
    source = serializers.ChoiceField(choices=ModelVersion.Source.choices)
    hf_repo = serializers.CharField(
        max_length=200,
        required=False,
        allow_blank=True,
        default="",
        help_text="Required for a `huggingface` source ('org/model'); empty for s3, gcs and pvc "
        "sources, which give `uri` instead.",
    )
    hf_revision = serializers.CharField(
        max_length=100, required=False, allow_blank=True, default=""
    )
    uri = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    image = serializers.CharField(max_length=300)
    engine_args = EngineArgsSerializer(required=False, default=dict)
    gpus_per_replica = serializers.IntegerField(min_value=0, max_value=16, default=0)
    mig_profile = serializers.ChoiceField(
        choices=["", *MIG_PROFILES], required=False, allow_blank=True, default=""
    )
    cpu = DocumentedPatternField(pattern=CPU_PATTERN, max_length=32, default="4")
    memory = DocumentedPatternField(pattern=MEMORY_PATTERN, max_length=32, default="32Gi")
    expected_load_seconds = serializers.IntegerField(min_value=1, max_value=3600, default=120)

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

    def to_spec(self) -> ModelVersionSpec:
        data = dict(self.validated_data)
        data.pop("tenant", None)
        data["cpu_millicores"] = data.pop("cpu")
        data["memory_bytes"] = data.pop("memory")
        data["engine_args"] = dict(data["engine_args"])
        return ModelVersionSpec(**data)


class ModelVersionUpdateSerializer(ModelVersionInputSerializer):
    """Changes to an unused model version; every field optional."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields.pop("tenant")
        for field in self.fields.values():
            field.required = False
            field.default = serializers.empty

    def changes(self) -> dict:
        data = dict(self.validated_data)
        if "cpu" in data:
            data["cpu_millicores"] = data.pop("cpu")
        if "memory" in data:
            data["memory_bytes"] = data.pop("memory")
        if "engine_args" in data:
            data["engine_args"] = dict(data["engine_args"])
        return data


class RevisionSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="kubernetes_name")
    model_version = serializers.SerializerMethodField()

    class Meta:
        model = Revision
        fields = ["name", "number", "model_version", "engine_args", "created_at"]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField())
    def get_model_version(self, revision: Revision) -> str:
        version = revision.model_version
        return f"{version.name}:{version.version} (id {version.pk})"


class ActiveRolloutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    state = serializers.CharField()
    step = serializers.IntegerField()
    weight = serializers.IntegerField()
    to_revision = serializers.CharField(source="to_revision.kubernetes_name")


class EndpointSerializer(serializers.ModelSerializer):
    tenant = serializers.CharField(source="tenant.slug")
    stable_revision = RevisionSerializer(allow_null=True)
    canary_revision = RevisionSerializer(allow_null=True)
    retiring_revision = RevisionSerializer(allow_null=True)
    active_rollout = serializers.SerializerMethodField()
    scaling = ScalingPolicySerializer(source="scaling_policy")
    conditions = ConditionSerializer(many=True)
    public_url = serializers.CharField()

    class Meta:
        model = Endpoint
        fields = [
            "name",
            "tenant",
            "served_model_name",
            "state",
            "stable_revision",
            "canary_revision",
            "canary_weight",
            "retiring_revision",
            "active_rollout",
            "scaling",
            "public_url",
            "ready_replicas",
            "desired_replicas",
            "generation",
            "observed_generation",
            "conditions",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(ActiveRolloutSerializer(allow_null=True))
    def get_active_rollout(self, endpoint: Endpoint) -> dict | None:
        rollout = active_rollout_of(endpoint)
        return None if rollout is None else ActiveRolloutSerializer(rollout).data


class EndpointCreateSerializer(StrictInputSerializer):
    name = serializers.RegexField(
        r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        max_length=ENDPOINT_NAME_MAX_LENGTH,
        error_messages={"invalid": "must be a DNS-1123 label (lowercase letters, digits, '-')"},
    )
    served_model_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    model_version = serializers.IntegerField(min_value=1, help_text="Id of a catalog entry.")
    scaling = ScalingPolicyInputSerializer(required=False)


class EndpointUpdateSerializer(StrictInputSerializer):
    scaling = ScalingPolicyInputSerializer()
