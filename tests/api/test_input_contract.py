"""Bad input is a clear 4xx in the one error shape, never a 500, and loses nothing."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from endpoints.models import Endpoint
from tenants.models import Quota, Tenant
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _error(response) -> dict:
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    return response.json()["error"]


def test_a_django_superuser_is_a_platform_admin(world):
    client = APIClient()
    client.force_login(UserFactory(username="root", is_superuser=True))
    response = client.post(
        "/api/v1/tenants/", {"slug": "first", "display_name": "First"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert Tenant.objects.filter(slug="first").exists()


def test_form_and_multipart_bodies_are_refused_with_415(client_for, world):
    before = Quota.objects.get(tenant=world.own).mig_slices
    response = client_for("platform_admin").put(
        "/api/v1/tenants/acme/quota/",
        {"gpus": 8, "max_endpoints": 5, "cpu": "128", "memory": "1Ti", "mig_slices": "{}"},
        format="multipart",
    )
    assert response.status_code == 415
    assert _error(response)["code"] == "unsupported_media_type"
    assert Quota.objects.get(tenant=world.own).mig_slices == before


def test_deeply_nested_json_is_a_400(client_for, world):
    response = client_for("deployer").generic(
        "POST",
        "/api/v1/tenants/acme/endpoints/",
        "[" * 100_000 + "]" * 100_000,
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "nested too deeply" in _error(response)["message"]


def test_a_nul_byte_in_a_path_segment_is_a_404(client_for, world):
    response = client_for("platform_admin").get("/api/v1/tenants/beta%00/")
    assert response.status_code == 404
    assert _error(response)["code"] == "not_found"


def test_a_duplicate_endpoint_name_is_a_conflict_before_any_quota_check(client_for, world):
    Quota.objects.filter(tenant=world.own).update(gpus=2)  # "chat" already commits both
    response = client_for("deployer").post(
        "/api/v1/tenants/acme/endpoints/",
        {"name": "chat", "model_version": world.platform_model.pk},
        format="json",
    )
    assert response.status_code == 409
    assert _error(response)["code"] == "conflict"
    assert Endpoint.objects.filter(tenant=world.own).count() == 1


def test_a_comparison_window_too_short_for_its_step_is_a_400(client_for, world):
    response = client_for("viewer").get(
        "/api/v1/tenants/acme/endpoints/chat/scaling-comparison/?window_hours=1&step_s=3600"
    )
    assert response.status_code == 400
    assert "step_s" in _error(response)["fields"]


@pytest.mark.parametrize("query", ["page_size=null", "page_size=0", "page_size=-3"])
def test_a_bad_page_size_is_a_400(client_for, world, query):
    response = client_for("viewer").get(f"/api/v1/tenants/acme/endpoints/?{query}")
    assert response.status_code == 400
    assert "page_size" in _error(response)["fields"]


@pytest.mark.parametrize("name", ["since", "until"])
def test_an_empty_time_bound_on_the_audit_log_is_a_400(client_for, world, name):
    response = client_for("auditor").get(f"/api/v1/audit-events/?{name}=")
    assert response.status_code == 400
    assert name in _error(response)["fields"]


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1024)
def test_an_oversized_body_is_a_json_413(client_for, world):
    body = json.dumps({"name": "big", "served_model_name": "x" * 4096})
    response = client_for("deployer").generic(
        "POST", "/api/v1/tenants/acme/endpoints/", body, content_type="application/json"
    )
    assert response.status_code == 413
    assert _error(response)["code"] == "too_large"


def test_an_unhandled_error_is_a_json_500_with_the_request_id(client_for, world, monkeypatch):
    from endpoints.api import views

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(views, "endpoint_representation", broken)
    response = client_for("viewer").get(
        "/api/v1/tenants/acme/endpoints/chat/", HTTP_X_REQUEST_ID="req-500"
    )
    assert response.status_code == 500
    error = _error(response)
    assert (error["code"], error["request_id"]) == ("server_error", "req-500")
    assert "a bug" not in json.dumps(error)


def test_unknown_fields_are_a_400_naming_each_with_its_path(client_for, world):
    response = client_for("deployer").post(
        "/api/v1/tenants/acme/endpoints/",
        {
            "name": "typo",
            "model_version": world.platform_model.pk,
            "foo": 1,
            "scaling": {"maxReplicas": 3},
        },
        format="json",
    )
    assert response.status_code == 400
    fields = _error(response)["fields"]
    assert "foo" in fields
    assert "scaling.maxReplicas" in fields
    assert not Endpoint.objects.filter(name="typo").exists()


def test_a_preset_patch_keeps_the_replica_bounds_and_the_quota(client_for, world):
    url = "/api/v1/tenants/acme/endpoints/chat/"
    client = client_for("deployer")
    client.patch(url, {"scaling": {"min_replicas": 0, "max_replicas": 2}}, format="json")
    response = client.patch(url, {"scaling": {"preset": "latency"}}, format="json")
    assert response.status_code == 200, response.content
    scaling = response.json()["scaling"]
    assert (scaling["preset"], scaling["min_replicas"], scaling["max_replicas"]) == (
        "latency",
        0,
        2,
    )


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("cpu", "99999999999999999999", "largest amount stored"),
        ("memory", "9999999999999999999", "largest amount stored"),
        ("memory", "12", "at least 1Gi"),
    ],
)
def test_quantities_beyond_the_database_or_implausible_are_400s(
    client_for, world, field, value, reason
):
    body = {
        "name": "big",
        "version": "1",
        "source": "huggingface",
        "hf_repo": "org/model",
        "image": "vllm/vllm-openai:v0.11.0",
        "gpus_per_replica": 1,
        field: value,
    }
    response = client_for("platform_admin").post("/api/v1/model-versions/", body, format="json")
    assert response.status_code == 400, response.content
    error = _error(response)
    assert field in error["fields"]
    assert reason in error["message"]


def test_an_engine_argument_beyond_its_bound_is_a_400(client_for, world):
    body = {
        "name": "long",
        "version": "1",
        "source": "huggingface",
        "hf_repo": "org/model",
        "image": "vllm/vllm-openai:v0.11.0",
        "gpus_per_replica": 1,
        "engine_args": {"max_model_len": 2**63},
    }
    response = client_for("platform_admin").post("/api/v1/model-versions/", body, format="json")
    assert response.status_code == 400
    assert "engine_args.max_model_len" in _error(response)["fields"]


def test_exabyte_quantities_are_accepted(client_for, world):
    response = client_for("platform_admin").put(
        "/api/v1/tenants/acme/quota/",
        {"gpus": 8, "max_endpoints": 5, "cpu": "128", "memory": "1Ei"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert Quota.objects.get(tenant=world.own).memory_bytes == 2**60
