"""Brute force gets 429s and a lockout in the audit trail; denied loops do not flood it."""

from __future__ import annotations

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from control_plane.audit.models import AuditEvent
from tenants.models import ApiKey

pytestmark = pytest.mark.django_db


def _bearer(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@override_settings(AUTH_FAILURE_LIMIT=5)
def test_guessing_keys_for_a_prefix_is_locked_out_with_429_even_for_the_right_key(world):
    real = world.keys["viewer"]
    prefix = ApiKey.objects.get(user=world.users["viewer"]).prefix
    wrong = real[:-4] + ("aaaa" if not real.endswith("aaaa") else "bbbb")
    codes = [_bearer(wrong).get("/api/v1/tenants/").status_code for _ in range(5)]
    assert codes == [401] * 5

    refused = _bearer(real).get("/api/v1/tenants/")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert refused.json()["error"]["code"] == "throttled"
    lockouts = AuditEvent.objects.filter(action="auth.lockout")
    assert lockouts.count() == 1
    assert prefix in lockouts.get().target_id or "address" in lockouts.get().target_id


@override_settings(AUTH_FAILURE_LIMIT=3)
def test_failed_console_sign_ins_lock_the_user_out(client, world):
    user = world.users["viewer"]
    user.set_password("the-right-password")
    user.save()
    for _ in range(3):
        response = client.post("/login/", {"username": user.username, "password": "wrong"})
        assert response.status_code == 200
    response = client.post("/login/", {"username": user.username, "password": "the-right-password"})
    assert response.status_code == 429
    assert "Too many failed attempts" in response.content.decode()
    assert AuditEvent.objects.filter(action="auth.lockout").count() == 1


def test_repeated_denials_are_one_audit_event_per_window(world):
    viewer = _bearer(world.keys["viewer"])
    for _ in range(20):
        response = viewer.patch(
            "/api/v1/tenants/acme/endpoints/chat/", {"scaling": {"max_replicas": 1}}
        )
        assert response.status_code == 403
    assert AuditEvent.objects.filter(action="endpoint.update", outcome="denied").count() == 1
