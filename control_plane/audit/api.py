from __future__ import annotations

from datetime import UTC

import django_filters
from django import forms
from rest_framework import serializers, viewsets

from control_plane.api.mixins import PrincipalMixin
from control_plane.audit.models import AuditEvent
from control_plane.audit.selectors import audit_events_visible_to


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


class AuditEventViewSet(PrincipalMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = AuditEventSerializer
    queryset = AuditEvent.objects.none()  # the model, for the schema
    filterset_class = AuditEventFilter

    def get_queryset(self):
        return audit_events_visible_to(actor=self.principal)
