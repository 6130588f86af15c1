from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from control_plane.api.mixins import PrincipalMixin
from control_plane.api.renderers import ManifestYamlRenderer
from control_plane.errors import Conflict, Unavailable, ValidationFailed
from control_plane.render_context import RenderContext
from endpoints import selectors, services
from endpoints.api.representations import endpoint_representation
from endpoints.api.serializers import (
    EndpointCreateSerializer,
    EndpointSerializer,
    EndpointUpdateSerializer,
    ModelVersionInputSerializer,
    ModelVersionSerializer,
    ModelVersionUpdateSerializer,
)
from endpoints.models import Endpoint, ModelVersion
from endpoints.reconciler import desired_objects
from scaling.api.serializers import ScalingComparisonQuerySerializer, ScalingComparisonSerializer
from scaling.comparison import TooManyRequests, compare_endpoint_traffic
from scaling.policy import parse_change, parse_policy
from scaling.simulator.engine import SimConfig
from scaling.telemetry import NoRequestsObserved, TelemetryUnavailable
from tenants.api.mixins import TenantScopedMixin
from tenants.selectors import tenant_for


class ModelVersionViewSet(PrincipalMixin, viewsets.GenericViewSet):
    """The catalog: platform-wide entries plus the private entries of the caller's tenants."""

    serializer_class = ModelVersionSerializer
    queryset = ModelVersion.objects.none()  # the model, for the schema

    def get_queryset(self):
        return selectors.model_versions_visible_to(actor=self.principal)

    def list(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ModelVersionSerializer(page, many=True).data)

    def retrieve(self, request, pk: int):
        version = selectors.model_version_for(actor=self.principal, pk=pk)
        return Response(ModelVersionSerializer(version).data)

    @extend_schema(request=ModelVersionInputSerializer, responses={201: ModelVersionSerializer})
    def create(self, request):
        data = ModelVersionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        slug = data.validated_data.get("tenant")
        tenant = tenant_for(actor=self.principal, slug=slug) if slug else None
        version = services.model_version_create(
            actor=self.principal, tenant=tenant, spec=data.to_spec()
        )
        return Response(ModelVersionSerializer(version).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ModelVersionUpdateSerializer, responses=ModelVersionSerializer)
    def partial_update(self, request, pk: int):
        version = selectors.model_version_for(actor=self.principal, pk=pk)
        data = ModelVersionUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = services.model_version_update(
            actor=self.principal, version=version, changes=data.changes()
        )
        return Response(ModelVersionSerializer(version).data)

    def destroy(self, request, pk: int):
        version = selectors.model_version_for(actor=self.principal, pk=pk)
        services.model_version_delete(actor=self.principal, version=version)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses=ModelVersionSerializer)
    @action(detail=True, methods=["post"])
    def deprecate(self, request, pk: int):
        version = selectors.model_version_for(actor=self.principal, pk=pk)
        version = services.model_version_deprecate(actor=self.principal, version=version)
        return Response(ModelVersionSerializer(version).data)


class EndpointViewSet(TenantScopedMixin, viewsets.GenericViewSet):
    serializer_class = EndpointSerializer
    queryset = Endpoint.objects.none()
    lookup_field = "name"

    def get_queryset(self):
        return selectors.endpoints_of(tenant=self.tenant)

    def get_renderers(self):
        if self.action == "manifests":
            return [JSONRenderer(), ManifestYamlRenderer()]
        return super().get_renderers()

    def list(self, request, slug: str):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response([endpoint_representation(e) for e in page])

    def retrieve(self, request, slug: str, name: str):
        endpoint = selectors.endpoint_for(tenant=self.tenant, name=name)
        return Response(endpoint_representation(endpoint))

    @extend_schema(request=EndpointCreateSerializer, responses={201: EndpointSerializer})
    def create(self, request, slug: str):
        data = EndpointCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tenant = self.tenant
        version = selectors.model_version_for(
            actor=self.principal, pk=data.validated_data["model_version"]
        )
        endpoint = services.endpoint_create(
            actor=self.principal,
            tenant=tenant,
            name=data.validated_data["name"],
            served_model_name=data.validated_data.get("served_model_name", ""),
            model_version=version,
            scaling=parse_policy(data.validated_data.get("scaling")),
        )
        return Response(EndpointSerializer(endpoint).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=EndpointUpdateSerializer, responses=EndpointSerializer)
    def partial_update(self, request, slug: str, name: str):
        endpoint = selectors.endpoint_for(tenant=self.tenant, name=name)
        data = EndpointUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = services.endpoint_update_scaling(
            actor=self.principal,
            endpoint=endpoint,
            change=parse_change(data.validated_data["scaling"]),
        )
        return Response(EndpointSerializer(endpoint).data)

    @extend_schema(
        responses={
            (200, "application/json"): OpenApiTypes.OBJECT,
            (200, "application/yaml"): OpenApiTypes.STR,
        },
        description="The Kubernetes objects the reconciler applies for this endpoint: YAML "
        "(a multi-document stream) when the Accept header asks for application/yaml, "
        'otherwise JSON ({"objects": [...]}).',
    )
    def manifests(self, request, slug: str, name: str):
        endpoint = selectors.endpoint_for(tenant=self.tenant, name=name)
        context = RenderContext.from_settings(settings)
        return Response({"objects": desired_objects(endpoint, context)})

    @extend_schema(
        parameters=[ScalingComparisonQuerySerializer],
        responses={
            200: ScalingComparisonSerializer,
            503: OpenApiResponse(description="No Prometheus is configured, or it did not answer."),
        },
        description="The endpoint's scaling policy and every preset (at the endpoint's maximum), "
        "replayed in the autoscaling simulator on the endpoint's own traffic from Prometheus, "
        "with the oracle lower bound. 409 when no request finished in the window.",
    )
    def scaling_comparison(self, request, slug: str, name: str):
        endpoint = selectors.endpoint_for(tenant=self.tenant, name=name)
        query = ScalingComparisonQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        end = timezone.now()
        start = end - timedelta(hours=data["window_hours"])
        config = SimConfig(
            slo_ttft_ms=float(data["slo_ttft_ms"]), cold_start=data["cold_start"], seed=data["seed"]
        )
        try:
            trace, comparison = compare_endpoint_traffic(
                endpoint, start=start, end=end, step_s=data["step_s"], config=config
            )
        except TelemetryUnavailable as exc:
            raise Unavailable(str(exc)) from exc
        except NoRequestsObserved as exc:
            raise Conflict(str(exc)) from exc
        except TooManyRequests as exc:
            raise ValidationFailed(
                f"{exc} Choose a shorter window, or run `manage.py simulate_scaling`.",
                field="window_hours",
            ) from exc
        body = {"start": start, "end": end, "requests": len(trace.requests)}
        body.update(comparison.summary())
        return Response(ScalingComparisonSerializer(body).data)

    @extend_schema(responses={202: EndpointSerializer})
    def destroy(self, request, slug: str, name: str):
        endpoint = selectors.endpoint_for(tenant=self.tenant, name=name)
        endpoint = services.endpoint_delete(actor=self.principal, endpoint=endpoint)
        return Response(EndpointSerializer(endpoint).data, status=status.HTTP_202_ACCEPTED)
