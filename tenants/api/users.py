"""`/api/v1/users/`: platform admins create users, reset passwords, deactivate them."""

from __future__ import annotations

from django.contrib.auth.models import User
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.response import Response

from control_plane.api.mixins import PrincipalMixin
from control_plane.api.serializers import DocumentedPatternField, StrictInputSerializer
from tenants import users


class UserSerializer(serializers.ModelSerializer):
    # A plain string: an unset address is "", which is no email format.
    email = serializers.CharField(read_only=True)

    class Meta:
        model = User
        fields = ["username", "email", "is_active", "date_joined", "last_login"]
        read_only_fields = fields


class UserCreateSerializer(StrictInputSerializer):
    # Django's UnicodeUsernameValidator checks it; the schema states the same rule.
    username = DocumentedPatternField(pattern=r"^[\w.@+-]+$", max_length=users.USERNAME_MAX_LENGTH)
    password = serializers.CharField(write_only=True, max_length=4096)
    email = serializers.EmailField(required=False, allow_blank=True)


class UserUpdateSerializer(StrictInputSerializer):
    password = serializers.CharField(write_only=True, max_length=4096, required=False)
    is_active = serializers.BooleanField(required=False)


class UserViewSet(PrincipalMixin, viewsets.GenericViewSet):
    serializer_class = UserSerializer
    queryset = User.objects.none()
    lookup_field = "username"

    def list(self, request):
        page = self.paginate_queryset(users.users_visible_to(actor=self.principal))
        return self.get_paginated_response(UserSerializer(page, many=True).data)

    def retrieve(self, request, username: str):
        return Response(
            UserSerializer(users.user_for(actor=self.principal, username=username)).data
        )

    @extend_schema(request=UserCreateSerializer, responses={201: UserSerializer})
    def create(self, request):
        data = UserCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = users.user_create(actor=self.principal, **data.validated_data)
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=UserUpdateSerializer, responses=UserSerializer)
    def partial_update(self, request, username: str):
        user = users.user_for(actor=self.principal, username=username)
        data = UserUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = users.user_update(actor=self.principal, user=user, **data.validated_data)
        return Response(UserSerializer(user).data)
