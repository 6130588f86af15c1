"""Users through the API: created by platform admins, passwords checked and never recorded,
deactivation ends sign-in and API keys."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from control_plane.audit.models import AuditEvent
from tenants.services import api_key_create
from tests.factories import principal

pytestmark = pytest.mark.django_db


def test_a_platform_admin_creates_a_user_who_can_sign_in(client_for, world):
    response = client_for("platform_admin").post(
        "/api/v1/users/", {"username": "carol", "password": "correct horse battery"}, format="json"
    )
    assert response.status_code == 201
    assert "password" not in response.json()
    assert APIClient().login(username="carol", password="correct horse battery")
    event = AuditEvent.objects.get(action="user.create")
    assert "correct horse" not in str(event.changes)


def test_a_weak_password_is_a_400_naming_the_field(client_for):
    response = client_for("platform_admin").post(
        "/api/v1/users/", {"username": "dave", "password": "password"}, format="json"
    )
    assert response.status_code == 400
    assert "password" in response.json()["error"]["fields"]


def test_a_duplicate_username_is_a_conflict(client_for):
    response = client_for("platform_admin").post(
        "/api/v1/users/",
        {"username": "newbie", "password": "a fine long passphrase"},
        format="json",
    )
    assert response.status_code == 409


def test_deactivating_a_user_stops_their_api_keys(client_for, world):
    _, key = api_key_create(actor=principal(world.users["viewer"]), name="ci")
    as_viewer = APIClient()
    as_viewer.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert as_viewer.get("/api/v1/tenants/").status_code == 200
    username = world.users["viewer"].username
    response = client_for("platform_admin").patch(
        f"/api/v1/users/{username}/", {"is_active": False}, format="json"
    )
    assert response.json()["is_active"] is False
    assert as_viewer.get("/api/v1/tenants/").status_code == 401


def test_a_password_reset_is_audited_without_the_password(client_for, world):
    username = world.users["viewer"].username
    response = client_for("platform_admin").patch(
        f"/api/v1/users/{username}/", {"password": "brand new passphrase"}, format="json"
    )
    assert response.status_code == 200
    event = AuditEvent.objects.get(action="user.update")
    assert event.changes["password"] == "[redacted]"
    assert APIClient().login(username=username, password="brand new passphrase")


def test_admins_cannot_deactivate_themselves(client_for, world):
    username = world.users["platform_admin"].username
    response = client_for("platform_admin").patch(
        f"/api/v1/users/{username}/", {"is_active": False}, format="json"
    )
    assert response.status_code == 409
