"""The audit read routes build events as plain dicts (`audit_event_representation`); the OpenAPI
schema describes them with AuditEventSerializer. Both must give the same body."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from rest_framework.renderers import JSONRenderer

from control_plane.audit.api import AuditEventSerializer, audit_event_representation
from control_plane.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def _as_json(data) -> object:
    return json.loads(JSONRenderer().render(data))


def _event(**overrides) -> AuditEvent:
    values = dict(
        id=7,
        chain="tenant:acme",
        sequence=3,
        occurred_at=datetime(2026, 12, 4, 18, 0, 0, 123456, tzinfo=UTC),
        actor_type=AuditEvent.ActorType.API_KEY,
        actor="ci-bot",
        api_key_prefix="abcd1234",
        tenant_slug="acme",
        action="endpoint.update",
        target_type="endpoint",
        target_id="chat",
        request_id="req-1",
        source_address="10.0.0.7",
        changes={"max_replicas": [4, 2], "note": 'ünïcode "quoted"', "nested": {"a": [1, None]}},
        outcome=AuditEvent.Outcome.SUCCESS,
        reason="",
        prev_hash="0" * 64,
        hash="f" * 64,
    )
    return AuditEvent(**(values | overrides))


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"source_address": None, "api_key_prefix": "", "tenant_slug": "", "request_id": ""},
        {"source_address": "2001:db8::1", "actor_type": AuditEvent.ActorType.SYSTEM},
        {"occurred_at": datetime(2026, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=5)))},
        {
            "outcome": AuditEvent.Outcome.DENIED,
            "reason": "Not a member.\nSecond line.",
            "changes": {},
        },
        {"changes": [], "sequence": 2**62, "id": 2**62},
    ],
)
def test_the_representation_matches_the_serializer_for_every_kind_of_event(overrides):
    event = _event(**overrides)
    plain = audit_event_representation(event)
    serialized = AuditEventSerializer(event).data
    assert _as_json(plain) == _as_json(serialized)
    assert list(plain) == list(serialized)  # the same key order in the body


def test_the_list_and_detail_routes_answer_what_the_serializer_describes(world, client_for):
    client = client_for("platform_admin")
    listed = client.get("/api/v1/audit-events/?page_size=500").json()["results"]
    assert len(listed) >= 5  # the world's setup is audited
    by_id = {
        event.pk: event for event in AuditEvent.objects.filter(pk__in=[e["id"] for e in listed])
    }
    assert listed == [_as_json(AuditEventSerializer(by_id[e["id"]]).data) for e in listed]
    one = listed[-1]
    assert client.get(f"/api/v1/audit-events/{one['id']}/").json() == one
