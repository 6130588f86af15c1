"""The rollouts API: start one on an endpoint, read them with their checks, pause, resume,
promote and abort. Views parse and answer; every rule lives in the services and the spec."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status, viewsets
from rest_framework.response import Response

from control_plane.api.serializers import StrictInputSerializer
from control_plane.errors import ValidationFailed
from endpoints import selectors
from endpoints.models import Rollout, RolloutCheck
from endpoints.rollouts import selectors as rollout_selectors
from endpoints.rollouts import services
from tenants.api.mixins import TenantScopedMixin
from tenants.api.serializers import ConditionSerializer


class GatesInputSerializer(StrictInputSerializer):
    ttft_p95_slo_s = serializers.FloatField(required=False, allow_null=True)
    tpot_p95_slo_s = serializers.FloatField(required=False, allow_null=True)
    max_error_ratio = serializers.FloatField(required=False, allow_null=True)
    tolerated_odds_ratio = serializers.FloatField(required=False)
    alpha = serializers.FloatField(required=False)
    min_requests = serializers.IntegerField(required=False)


class RolloutStartSerializer(StrictInputSerializer):
    model_version = serializers.IntegerField(min_value=1, help_text="Id of a catalog entry.")
    engine_args = serializers.DictField(
        required=False, help_text="Engine arguments over the model version's own."
    )
    strategy = serializers.ChoiceField(choices=["canary", "direct"], required=False)
    steps = serializers.ListField(
        child=serializers.IntegerField(), required=False, help_text="Percent, ending at 100."
    )
    analysis_interval_s = serializers.IntegerField(required=False)
    bake_s = serializers.IntegerField(required=False)
    warmup_s = serializers.IntegerField(required=False)
    failure_limit = serializers.IntegerField(required=False)
    inconclusive_limit = serializers.IntegerField(required=False)
    gates = GatesInputSerializer(required=False)

    def settings(self) -> dict:
        """What the spec validates (`endpoints.rollouts.spec.rollout_spec`)."""
        data = {k: v for k, v in self.validated_data.items() if k not in ("model_version",)}
        data.pop("engine_args", None)
        if "gates" in data:
            data["gates"] = dict(data["gates"])
        return data


class RolloutActionSerializer(StrictInputSerializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class RolloutCheckSerializer(serializers.ModelSerializer):
    class Meta:
        model = RolloutCheck
        fields = [
            "number",
            "step",
            "weight",
            "window_start",
            "window_end",
            "verdict",
            "reason",
            "canary",
            "stable",
            "statistics",
            "queries",
            "created_at",
        ]
        read_only_fields = fields


class RolloutSerializer(serializers.ModelSerializer):
    endpoint = serializers.CharField(source="endpoint.name")
    from_revision = serializers.CharField(source="from_revision.kubernetes_name")
    to_revision = serializers.CharField(source="to_revision.kubernetes_name")
    model_version = serializers.SerializerMethodField()
    conditions = ConditionSerializer(many=True)

    class Meta:
        model = Rollout
        fields = [
            "id",
            "endpoint",
            "from_revision",
            "to_revision",
            "model_version",
            "strategy",
            "state",
            "step",
            "weight",
            "spec",
            "message",
            "failed_checks",
            "inconclusive_streak",
            "canary_ready_at",
            "next_check_at",
            "retire_after",
            "retired_at",
            "created_by",
            "created_at",
            "finished_at",
            "conditions",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField())
    def get_model_version(self, rollout: Rollout) -> str:
        version = rollout.to_revision.model_version
        return f"{version.name}:{version.version} (id {version.pk})"


class RolloutDetailSerializer(RolloutSerializer):
    checks = RolloutCheckSerializer(many=True)

    class Meta(RolloutSerializer.Meta):
        fields = [*RolloutSerializer.Meta.fields, "checks"]
        read_only_fields = fields


class RolloutViewSet(TenantScopedMixin, viewsets.GenericViewSet):
    serializer_class = RolloutSerializer
    queryset = Rollout.objects.none()

    def _endpoint(self):
        return selectors.endpoint_for(tenant=self.tenant, name=self.kwargs["name"])

    def list(self, request, slug: str, name: str):
        rollouts = rollout_selectors.rollouts_of(endpoint=self._endpoint())
        page = self.paginate_queryset(rollouts)
        return self.get_paginated_response(RolloutSerializer(page, many=True).data)

    @extend_schema(responses=RolloutDetailSerializer)
    def retrieve(self, request, slug: str, name: str, pk: int):
        rollout = rollout_selectors.rollout_for(endpoint=self._endpoint(), pk=pk, with_checks=True)
        return Response(RolloutDetailSerializer(rollout).data)

    @extend_schema(request=RolloutStartSerializer, responses={201: RolloutSerializer})
    def create(self, request, slug: str, name: str):
        endpoint = self._endpoint()
        data = RolloutStartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = (
            selectors.model_versions_visible_to(actor=self.principal)
            .filter(pk=data.validated_data["model_version"])
            .first()
        )
        if version is None:
            raise ValidationFailed("No such model version in this catalog.", field="model_version")
        rollout = services.rollout_start(
            actor=self.principal,
            endpoint=endpoint,
            model_version=version,
            settings=data.settings(),
            engine_args=dict(data.validated_data.get("engine_args") or {}),
        )
        rollout = rollout_selectors.rollout_for(endpoint=endpoint, pk=rollout.pk)
        return Response(RolloutSerializer(rollout).data, status=status.HTTP_201_CREATED)

    def _act(self, request, pk: int, service):
        endpoint = self._endpoint()
        rollout = rollout_selectors.rollout_for(endpoint=endpoint, pk=pk)
        data = RolloutActionSerializer(data=request.data or {})
        data.is_valid(raise_exception=True)
        service(actor=self.principal, rollout=rollout, reason=data.validated_data.get("reason", ""))
        rollout = rollout_selectors.rollout_for(endpoint=endpoint, pk=pk)
        return Response(RolloutSerializer(rollout).data)

    @extend_schema(request=RolloutActionSerializer, responses=RolloutSerializer)
    def pause(self, request, slug: str, name: str, pk: int):
        return self._act(request, pk, services.rollout_pause)

    @extend_schema(request=RolloutActionSerializer, responses=RolloutSerializer)
    def resume(self, request, slug: str, name: str, pk: int):
        return self._act(request, pk, services.rollout_resume)

    @extend_schema(
        request=RolloutActionSerializer,
        responses=RolloutSerializer,
        description="Skip the remaining steps; `reason` is required and audited.",
    )
    def promote(self, request, slug: str, name: str, pk: int):
        return self._act(request, pk, services.rollout_promote)

    @extend_schema(request=RolloutActionSerializer, responses=RolloutSerializer)
    def abort(self, request, slug: str, name: str, pk: int):
        return self._act(request, pk, services.rollout_abort)
