"""What API callers see: one error shape, field-named 400s, 409s with numbers, keys shown once."""

import pytest

from control_plane.audit.models import AuditEvent
from tenants.models import ApiKey, Tenant

pytestmark = pytest.mark.django_db


def test_validation_failure_names_the_field_and_the_reason(client_for):
    response = client_for("platform_admin").post(
        "/api/v1/tenants/", {"slug": "Bad Slug", "display_name": "x"}, format="json"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert "slug" in error["fields"]
    assert "DNS-1123" in error["fields"]["slug"][0]
    assert error["request_id"]
    assert not Tenant.objects.filter(display_name="x").exists()


def test_nested_field_errors_are_reported_with_their_path(client_for):
    response = client_for("platform_admin").put(
        "/api/v1/tenants/acme/quota/",
        {"gpus": 1, "max_endpoints": 1, "cpu": "lots", "memory": "1Gi"},
        format="json",
    )
    assert response.status_code == 400
    assert "cpu" in response.json()["error"]["fields"]


def test_request_id_is_echoed_and_recorded(client_for, world):
    response = client_for("platform_admin").patch(
        "/api/v1/tenants/acme/",
        {"display_name": "Acme Corp"},
        format="json",
        HTTP_X_REQUEST_ID="trace-123",
    )
    assert response["X-Request-ID"] == "trace-123"
    assert AuditEvent.objects.get(action="tenant.update").request_id == "trace-123"


def test_lowering_quota_below_commitments_is_refused_with_the_numbers(client_for, world):
    # The fixture's "chat" endpoint commits 2 GPUs (max_replicas 2 × 1 GPU).
    response = client_for("platform_admin").put(
        "/api/v1/tenants/acme/quota/",
        {"gpus": 1, "max_endpoints": 5, "cpu": "128", "memory": "1Ti"},
        format="json",
    )
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "quota_exceeded"
    assert "nvidia.com/gpu: 2 committed, new limit 1" in error["message"]
    world.own.quota.refresh_from_db()
    assert world.own.quota.gpus == 8


def test_quota_read_shows_limits_committed_and_remaining(client_for, world):
    body = client_for("viewer").get("/api/v1/tenants/acme/quota/").json()
    assert body["limits"]["gpus"] == 8
    assert body["committed"]["gpus"] == 2
    assert body["remaining"]["gpus"] == 6
    assert body["limits"]["memory"] == "1Ti"


def test_api_key_is_shown_once_and_stored_as_a_hash(client_for):
    response = client_for("viewer").post("/api/v1/api-keys/", {"name": "ci"}, format="json")
    assert response.status_code == 201
    plaintext = response.json()["key"]
    stored = ApiKey.objects.get(prefix=response.json()["prefix"])
    assert plaintext not in stored.secret_hash
    listed = client_for("viewer").get("/api/v1/api-keys/").json()["results"]
    assert all("key" not in item for item in listed)


def test_revoked_key_no_longer_authenticates(client_for, world):
    from rest_framework.test import APIClient

    created = client_for("viewer").post("/api/v1/api-keys/", {"name": "tmp"}, format="json")
    key, prefix = created.json()["key"], created.json()["prefix"]
    fresh = APIClient()
    fresh.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert fresh.get("/api/v1/tenants/").status_code == 200
    assert ApiKey.objects.get(prefix=prefix).last_used_at is not None
    assert client_for("viewer").delete(f"/api/v1/api-keys/{prefix}/").status_code == 200
    response = fresh.get("/api/v1/tenants/")
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]
    assert client_for("viewer").delete(f"/api/v1/api-keys/{prefix}/").status_code == 409


def test_expired_key_is_refused(client_for, world):
    from datetime import timedelta

    from django.utils import timezone
    from rest_framework.test import APIClient

    created = client_for("viewer").post(
        "/api/v1/api-keys/",
        {"name": "short", "expires_at": (timezone.now() + timedelta(hours=1)).isoformat()},
        format="json",
    )
    ApiKey.objects.filter(prefix=created.json()["prefix"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    fresh = APIClient()
    fresh.credentials(HTTP_AUTHORIZATION=f"Bearer {created.json()['key']}")
    assert fresh.get("/api/v1/tenants/").status_code == 401


def test_page_size_is_bounded(client_for, world, settings):
    response = client_for("platform_admin").get("/api/v1/audit-events/?page_size=100000")
    assert response.status_code == 200
    assert len(response.json()["results"]) <= 500


def test_audit_events_filter_by_tenant_and_action(client_for, world):
    response = client_for("auditor").get(
        "/api/v1/audit-events/", {"tenant": "globex", "action": "endpoint.create"}
    )
    results = response.json()["results"]
    assert results
    assert {(r["tenant"], r["action"]) for r in results} == {("globex", "endpoint.create")}


def test_tenant_admin_sees_only_their_tenants_audit_events(client_for, world):
    results = client_for("tenant_admin").get("/api/v1/audit-events/?page_size=500").json()
    assert {event["tenant"] for event in results["results"]} == {"acme"}


def test_denied_api_call_is_audited(client_for, world):
    response = client_for("viewer").delete("/api/v1/tenants/acme/endpoints/chat/")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    event = AuditEvent.objects.get(action="endpoint.delete")
    assert (event.outcome, event.actor_type, event.actor) == ("denied", "api_key", "acme-viewer")
    assert event.api_key_prefix == world.keys["viewer"].split("_")[1]


def test_manifests_route_returns_the_objects_as_json_or_yaml(client_for, world):
    import yaml

    client = client_for("viewer")
    objects = client.get("/api/v1/tenants/acme/endpoints/chat/manifests/").json()["objects"]
    kinds = {obj["kind"] for obj in objects}
    assert {"Deployment", "Service", "ScaledObject", "HTTPRoute"} <= kinds
    response = client.get(
        "/api/v1/tenants/acme/endpoints/chat/manifests/", HTTP_ACCEPT="application/yaml"
    )
    assert response["Content-Type"].startswith("application/yaml")
    assert list(yaml.safe_load_all(response.content)) == objects
    assert client.get("/api/v1/tenants/globex/endpoints/chat/manifests/").status_code == 404


def test_quota_refusal_of_an_endpoint_names_the_numbers(client_for, world):
    response = client_for("deployer").post(
        "/api/v1/tenants/acme/endpoints/",
        {"name": "big", "model_version": world.platform_model.pk, "scaling": {"max_replicas": 8}},
        format="json",
    )
    assert response.status_code == 409
    assert "needs 8 × nvidia.com/gpu, 6 of 8 remain" in response.json()["error"]["message"]


def test_errors_are_json_even_where_yaml_was_asked_for(client_for, world):
    response = client_for("viewer").get(
        "/api/v1/tenants/acme/endpoints/nope/manifests/", HTTP_ACCEPT="application/yaml"
    )
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "not_found"


def test_in_flight_target_is_set_by_patch_rendered_as_a_trigger_and_cleared_by_null(client_for):
    client = client_for("deployer")
    url = "/api/v1/tenants/acme/endpoints/chat/"
    response = client.patch(url, {"scaling": {"target_in_flight_per_replica": 48}}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["scaling"]["target_in_flight_per_replica"] == 48
    objects = client.get(f"{url}manifests/").json()["objects"]
    (scaled,) = [o for o in objects if o["kind"] == "ScaledObject"]
    names = [t["name"] for t in scaled["spec"]["triggers"]]
    assert "in-flight" in names
    response = client.patch(url, {"scaling": {"target_in_flight_per_replica": None}}, format="json")
    assert response.json()["scaling"]["target_in_flight_per_replica"] is None


def test_in_flight_target_must_be_positive(client_for):
    response = client_for("deployer").patch(
        "/api/v1/tenants/acme/endpoints/chat/",
        {"scaling": {"target_in_flight_per_replica": 0}},
        format="json",
    )
    assert response.status_code == 400
    assert "scaling.target_in_flight_per_replica" in response.json()["error"]["fields"]


def test_prompt_token_target_is_set_by_patch_rendered_as_a_rate_trigger_and_cleared_by_null(
    client_for,
):
    client = client_for("deployer")
    url = "/api/v1/tenants/acme/endpoints/chat/"
    body = {"scaling": {"target_prompt_tokens_per_s_per_replica": 8000}}
    response = client.patch(url, body, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["scaling"]["target_prompt_tokens_per_s_per_replica"] == 8000
    objects = client.get(f"{url}manifests/").json()["objects"]
    (scaled,) = [o for o in objects if o["kind"] == "ScaledObject"]
    (trigger,) = [t for t in scaled["spec"]["triggers"] if t["name"] == "prompt-tokens"]
    assert "rate(vllm:prompt_tokens_total{" in trigger["metadata"]["query"]
    body = {"scaling": {"target_prompt_tokens_per_s_per_replica": None}}
    response = client.patch(url, body, format="json")
    assert response.json()["scaling"]["target_prompt_tokens_per_s_per_replica"] is None


def test_scaling_comparison_without_prometheus_is_a_503_in_the_error_shape(client_for, settings):
    settings.PROMETHEUS_URL = ""
    response = client_for("viewer").get("/api/v1/tenants/acme/endpoints/chat/scaling-comparison/")
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "unavailable"
    assert "PROMETHEUS_URL is empty" in error["message"]


def test_scaling_comparison_query_is_validated_field_by_field(client_for):
    response = client_for("viewer").get(
        "/api/v1/tenants/acme/endpoints/chat/scaling-comparison/",
        {"window_hours": 0, "step_s": 5, "cold_start": "frozen"},
    )
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"window_hours", "step_s", "cold_start"}
