from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

import django_filters
from django import forms
from django.http import StreamingHttpResponse
from django.urls import path
from django_filters.constants import EMPTY_VALUES
from django_filters.utils import translate_validation
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from control_plane.api.mixins import PrincipalMixin
from control_plane.api.representations import datetime_representation
from control_plane.audit import signing
from control_plane.audit.export import CONTENT_TYPES, FORMATS, ExportSpec
from control_plane.audit.export_service import export_manifest, stream_export
from control_plane.audit.models import AuditEvent
from control_plane.audit.selectors import (
    audit_events_matching,
    audit_events_visible_to,
    export_pins,
)


class AuditEventSerializer(serializers.ModelSerializer):
    tenant = serializers.CharField(source="tenant_slug")

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "occurred_at",
            "chain",
            "sequence",
            "actor_type",
            "actor",
            "api_key_prefix",
            "tenant",
            "action",
            "target_type",
            "target_id",
            "request_id",
            "source_address",
            "changes",
            "outcome",
            "reason",
            "prev_hash",
            "hash",
        ]
        read_only_fields = fields


def audit_event_representation(event: AuditEvent) -> dict:
    """What `AuditEventSerializer` renders, built directly: the read routes answer pages of 50-500
    events, and DRF builds the serializer's fields and walks them per event (a tenth of the CPU
    of a 50-clients read benchmark, docs/benchmarks/api.md). The serializer stays the OpenAPI
    description; tests/api/test_audit_event_representation.py pins the two to the same body, so
    a field added to one and not the other fails there."""
    return {
        "id": event.id,
        "occurred_at": datetime_representation(event.occurred_at),
        "chain": str(event.chain),
        "sequence": event.sequence,
        "actor_type": str(event.actor_type),
        "actor": str(event.actor),
        "api_key_prefix": str(event.api_key_prefix),
        "tenant": str(event.tenant_slug),
        "action": str(event.action),
        "target_type": str(event.target_type),
        "target_id": str(event.target_id),
        "request_id": str(event.request_id),
        "source_address": None if event.source_address is None else str(event.source_address),
        "changes": event.changes,
        "outcome": str(event.outcome),
        "reason": str(event.reason),
        "prev_hash": str(event.prev_hash),
        "hash": str(event.hash),
    }


class UtcDateTimeFilter(django_filters.IsoDateTimeFilter):
    """ISO 8601 with any offset; compared in UTC (PostgreSQL refuses offsets beyond ±15:59)."""

    def filter(self, qs, value):
        return super().filter(qs, value.astimezone(UTC) if value is not None else None)


class _AuditEventFilterForm(forms.Form):
    def clean(self) -> dict:
        cleaned = super().clean()
        for name in ("since", "until"):
            # An empty value would silently mean "no bound": refuse it.
            if name in self.data and not str(self.data[name]).strip():
                self.add_error(name, "Enter an ISO 8601 time (e.g. 2026-12-01T00:00:00Z).")
        return cleaned


class AuditEventFilter(django_filters.FilterSet):
    tenant = django_filters.CharFilter(field_name="tenant_slug")
    action = django_filters.CharFilter()
    actor = django_filters.CharFilter()
    outcome = django_filters.ChoiceFilter(choices=AuditEvent.Outcome.choices)
    since = UtcDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    until = UtcDateTimeFilter(field_name="occurred_at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields = ["tenant", "action", "actor", "outcome", "since", "until"]
        form = _AuditEventFilterForm


def _exact_matches(filters: AuditEventFilter) -> dict[str, str] | None:
    """The valid filters' values by model field when each one given is an exact match, which
    `audit_events_matching` compiles; None when a time bound is given (the ORM takes those)."""
    exact: dict[str, str] = {}
    for name, value in filters.form.cleaned_data.items():
        if value in EMPTY_VALUES:  # as Filter.filter: no value, no filter
            continue
        where = filters.filters[name]
        if where.lookup_expr != "exact" or where.exclude or not isinstance(value, str):
            return None
        exact[where.field_name] = value
    return exact


class AuditEventViewSet(PrincipalMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = AuditEventSerializer
    queryset = AuditEvent.objects.none()  # the model, for the schema
    filterset_class = AuditEventFilter

    def get_queryset(self):
        return audit_events_visible_to(actor=self.principal)

    def list(self, request: Request) -> Response:
        filters = AuditEventFilter(request.query_params, queryset=self.get_queryset())
        if not filters.is_valid():
            raise translate_validation(filters.errors)  # as DjangoFilterBackend answers
        exact = _exact_matches(filters)
        events = (
            filters.qs
            if exact is None
            else audit_events_matching(actor=self.principal, exact=exact)
        )
        page = self.paginate_queryset(events)
        return self.get_paginated_response([audit_event_representation(e) for e in page])

    def retrieve(self, request: Request, pk: int) -> Response:
        return Response(audit_event_representation(self.get_object()))


class AuditExportQuerySerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=FORMATS)
    tenant = serializers.CharField(required=False, max_length=64)
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(
        required=False, help_text="Default: now. The export answers with the value it used."
    )
    action = serializers.CharField(required=False, max_length=64)
    actor = serializers.CharField(required=False, max_length=150)
    outcome = serializers.ChoiceField(choices=AuditEvent.Outcome.choices, required=False)
    max_event_id = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=2**63 - 1,
        help_text="Default: the newest event. Pins the export so its manifest can be "
        "computed again; the export answers with the value it used.",
    )

    def _utc(self, value: datetime | None) -> datetime | None:
        # PostgreSQL refuses offsets beyond ±15:59: compare in UTC.
        try:
            return value.astimezone(UTC) if value is not None else None
        except OverflowError as error:
            raise serializers.ValidationError("Datetime value out of range.") from error

    def validate_since(self, value: datetime) -> datetime | None:
        return self._utc(value)

    def validate_until(self, value: datetime) -> datetime | None:
        return self._utc(value)


def export_spec_from(request: Request) -> ExportSpec:
    """The export the query asks for, pinned to now and the newest event unless it pins them."""
    query = AuditExportQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    values = query.validated_data
    now, newest = export_pins()
    return ExportSpec(
        format=values["format"],
        until=values.get("until") or now,
        max_event_id=values.get("max_event_id", newest),
        since=values.get("since"),
        tenant=values.get("tenant"),
        action=values.get("action"),
        actor=values.get("actor"),
        outcome=values.get("outcome"),
    )


class _JsonErrorsView(PrincipalMixin, APIView):
    def perform_content_negotiation(self, request, force=False):
        # The body's type comes from `?format=`; errors are JSON whatever the Accept header says.
        return (JSONRenderer(), "application/json")


class AuditExportView(_JsonErrorsView):
    @extend_schema(
        operation_id="audit_events_export",
        parameters=[AuditExportQuerySerializer],
        responses={
            (200, "text/csv"): OpenApiTypes.STR,
            (200, "application/x-ndjson"): OpenApiTypes.STR,
            503: OpenApiResponse(description="No audit signing key is configured."),
        },
        description="Stream the caller's audit events as CSV or JSON Lines, one row per event "
        "with every field, its hash and its predecessor's. The X-Audit-Export-Until and "
        "X-Audit-Export-Max-Event-Id headers pin what it holds; the Link header names the "
        "signed manifest of exactly these rows.",
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        spec = export_spec_from(request)
        body = stream_export(actor=self.principal, spec=spec)
        response = StreamingHttpResponse(body, content_type=CONTENT_TYPES[spec.format])
        pins = {"until": spec.until.isoformat(), "max_event_id": str(spec.max_event_id)}
        stamp = spec.until.strftime("%Y%m%dT%H%M%SZ")
        response["Content-Disposition"] = (
            f'attachment; filename="audit-{spec.tenant or "all"}-{stamp}.{spec.format}"'
        )
        response["X-Audit-Export-Until"] = pins["until"]
        response["X-Audit-Export-Max-Event-Id"] = pins["max_event_id"]
        query = urlencode({**request.query_params.dict(), **pins})
        response["Link"] = f'<{request.path}manifest/?{query}>; rel="describedby"'
        return response


class AuditExportManifestView(_JsonErrorsView):
    @extend_schema(
        operation_id="audit_events_export_manifest",
        parameters=[AuditExportQuerySerializer],
        responses={
            200: OpenApiTypes.OBJECT,
            503: OpenApiResponse(description="No audit signing key is configured."),
        },
        description="The signed manifest of the export the same query streams. Pass the "
        "export's `until` and `max_event_id` (its Link header does) to describe that export.",
    )
    def get(self, request: Request) -> Response:
        return Response(export_manifest(actor=self.principal, spec=export_spec_from(request)))


class AuditPublicKeySerializer(serializers.Serializer):
    algorithm = serializers.CharField()
    key_id = serializers.CharField()
    public_key_pem = serializers.CharField()


class AuditPublicKeyView(_JsonErrorsView):
    @extend_schema(
        operation_id="audit_public_key",
        responses={
            200: AuditPublicKeySerializer,
            503: OpenApiResponse(description="No audit signing key is configured."),
        },
        description="The Ed25519 public key that verifies export manifests and checkpoints.",
    )
    def get(self, request: Request) -> Response:
        key = signing.signing_key().public_key()
        return Response(
            {
                "algorithm": signing.ALGORITHM,
                "key_id": signing.key_id(key),
                "public_key_pem": signing.public_key_pem(key),
            }
        )


export_urlpatterns = [
    path("audit-events/export/", AuditExportView.as_view(), name="auditevent-export"),
    path(
        "audit-events/export/manifest/",
        AuditExportManifestView.as_view(),
        name="auditevent-export-manifest",
    ),
    path("audit/public-key/", AuditPublicKeyView.as_view(), name="audit-public-key"),
]
