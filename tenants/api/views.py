from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.response import Response

from control_plane.api.mixins import PrincipalMixin
from tenants import selectors, services
from tenants.api.mixins import TenantScopedMixin
from tenants.api.serializers import (
    ApiKeyCreatedSerializer,
    ApiKeyCreateSerializer,
    ApiKeySerializer,
    MembershipCreateSerializer,
    MembershipSerializer,
    MembershipUpdateSerializer,
    QuotaReadSerializer,
    QuotaSerializer,
    TenantCreateSerializer,
    TenantSerializer,
    TenantUpdateSerializer,
)
from tenants.models import ApiKey, Membership, Tenant
from tenants.quota_report import quota_report


class TenantViewSet(PrincipalMixin, viewsets.GenericViewSet):
    serializer_class = TenantSerializer
    queryset = Tenant.objects.none()  # the model, for the schema; rows come from selectors
    lookup_field = "slug"
    lookup_value_regex = "[^/]+"

    def get_queryset(self):
        return selectors.tenants_visible_to(actor=self.principal)

    def list(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(TenantSerializer(page, many=True).data)

    def retrieve(self, request, slug: str):
        tenant = selectors.tenant_for(actor=self.principal, slug=slug)
        return Response(TenantSerializer(tenant).data)

    @extend_schema(request=TenantCreateSerializer, responses={201: TenantSerializer})
    def create(self, request):
        data = TenantCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        quota = None
        if "quota" in data.validated_data:
            quota_input = QuotaSerializer(data=request.data["quota"])
            quota_input.is_valid(raise_exception=True)
            quota = quota_input.to_values()
        tenant = services.tenant_create(
            actor=self.principal,
            slug=data.validated_data["slug"],
            display_name=data.validated_data["display_name"],
            quota=quota,
        )
        tenant = selectors.tenant_for(actor=self.principal, slug=tenant.slug)
        return Response(TenantSerializer(tenant).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=TenantUpdateSerializer, responses={200: TenantSerializer})
    def partial_update(self, request, slug: str):
        tenant = selectors.tenant_for(actor=self.principal, slug=slug)
        data = TenantUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tenant = services.tenant_update(actor=self.principal, tenant=tenant, **data.validated_data)
        return Response(TenantSerializer(tenant).data)

    @extend_schema(responses={202: TenantSerializer})
    def destroy(self, request, slug: str):
        tenant = selectors.tenant_for(actor=self.principal, slug=slug)
        tenant = services.tenant_delete(actor=self.principal, tenant=tenant)
        return Response(TenantSerializer(tenant).data, status=status.HTTP_202_ACCEPTED)


class QuotaViewSet(TenantScopedMixin, viewsets.GenericViewSet):
    serializer_class = QuotaReadSerializer
    pagination_class = None

    @extend_schema(responses=QuotaReadSerializer)
    def retrieve(self, request, slug: str):
        return Response(quota_report(self.tenant))

    @extend_schema(request=QuotaSerializer, responses=QuotaReadSerializer)
    def update(self, request, slug: str):
        tenant = self.tenant
        data = QuotaSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.quota_update(actor=self.principal, tenant=tenant, values=data.to_values())
        tenant.quota.refresh_from_db()
        return Response(quota_report(tenant))


class MembershipViewSet(TenantScopedMixin, viewsets.GenericViewSet):
    serializer_class = MembershipSerializer
    queryset = Membership.objects.none()
    lookup_field = "username"
    lookup_value_regex = "[^/]+"

    def get_queryset(self):
        return selectors.memberships_of(tenant=self.tenant)

    def list(self, request, slug: str):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(MembershipSerializer(page, many=True).data)

    def retrieve(self, request, slug: str, username: str):
        membership = get_object_or_404(self.get_queryset(), user__username=username)
        return Response(MembershipSerializer(membership).data)

    @extend_schema(request=MembershipCreateSerializer, responses={201: MembershipSerializer})
    def create(self, request, slug: str):
        data = MembershipCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.membership_add(
            actor=self.principal, tenant=self.tenant, **data.validated_data
        )
        return Response(MembershipSerializer(membership).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=MembershipUpdateSerializer, responses=MembershipSerializer)
    def partial_update(self, request, slug: str, username: str):
        membership = get_object_or_404(self.get_queryset(), user__username=username)
        data = MembershipUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.membership_update(
            actor=self.principal, membership=membership, role=data.validated_data["role"]
        )
        return Response(MembershipSerializer(membership).data)

    def destroy(self, request, slug: str, username: str):
        membership = get_object_or_404(self.get_queryset(), user__username=username)
        services.membership_remove(actor=self.principal, membership=membership)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ApiKeyViewSet(PrincipalMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """The caller's own API keys."""

    serializer_class = ApiKeySerializer
    queryset = ApiKey.objects.none()
    lookup_field = "prefix"
    lookup_value_regex = "[^/]+"

    def get_queryset(self):
        return selectors.api_keys_of(actor=self.principal)

    def retrieve(self, request, prefix: str):
        return Response(ApiKeySerializer(self.get_object()).data)

    @extend_schema(request=ApiKeyCreateSerializer, responses={201: ApiKeyCreatedSerializer})
    def create(self, request):
        data = ApiKeyCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        key, plaintext = services.api_key_create(actor=self.principal, **data.validated_data)
        body = ApiKeySerializer(key).data | {"key": plaintext}
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(
        responses={200: ApiKeySerializer},
        description="Revokes the key at once and answers 200 with the revoked key (its "
        "`revoked_at` set); the key stays listed for the record. 409 if it was already revoked.",
    )
    def destroy(self, request, prefix: str):
        key = services.api_key_revoke(actor=self.principal, key=self.get_object())
        return Response(ApiKeySerializer(key).data)
