"""The console's forms change what the API changes, refuse what it refuses (next to the field,
in the same words), and show a viewer no control the server would refuse."""

from __future__ import annotations

import pytest
from django.test import Client

from control_plane.audit.models import AuditEvent
from endpoints.models import Endpoint
from tenants.models import ApiKey, Membership, Quota, Tenant

pytestmark = pytest.mark.django_db

TENANT = "/tenants/acme/"
ENDPOINT = "/tenants/acme/endpoints/chat/"


def test_a_platform_admin_creates_a_tenant_and_sets_its_quota(signed_in, world):
    admin = signed_in("platform_admin")
    response = admin.post("/tenants/", {"slug": "initech", "display_name": "Initech"})
    assert response.url == "/tenants/initech/"
    assert Tenant.objects.filter(slug="initech").exists()
    response = admin.post(
        "/tenants/initech/quota/",
        {"gpus": 4, "max_endpoints": 3, "cpu": "64", "memory": "256Gi", "mig_slices": "3g.40gb=2"},
    )
    assert response.status_code == 302
    quota = Quota.objects.get(tenant__slug="initech")
    assert (quota.gpus, quota.mig_slices, quota.cpu_millicores) == (4, {"3g.40gb": 2}, 64000)


def test_quota_errors_are_shown_next_to_the_field(signed_in, world):
    admin = signed_in("platform_admin")
    response = admin.post(
        f"{TENANT}quota/",
        {"gpus": 4, "max_endpoints": 3, "cpu": "lots", "memory": "256Gi", "mig_slices": "9g=1"},
    )
    assert response.status_code == 400
    assert "is not a CPU quantity" in response.context["quota_form"].errors["cpu"][0]


def test_only_platform_admins_see_the_quota_and_tenant_forms(signed_in, world):
    assert "Save quota" in signed_in("platform_admin").get(TENANT).content.decode()
    assert "Save quota" not in signed_in("tenant_admin").get(TENANT).content.decode()
    assert "Create a tenant" not in signed_in("tenant_admin").get("/").content.decode()
    response = signed_in("tenant_admin").post(
        f"{TENANT}quota/", {"gpus": 99, "max_endpoints": 3, "cpu": "64", "memory": "1Ti"}
    )
    assert response.status_code == 403
    assert Quota.objects.get(tenant=world.own).gpus == 8


def test_a_tenant_admin_adds_a_member_and_an_unknown_user_is_named(signed_in, world):
    admin = signed_in("tenant_admin")
    assert admin.post(f"{TENANT}members/", {"username": "newbie", "role": "deployer"}).url == TENANT
    assert Membership.objects.get(user__username="newbie").role == "deployer"
    response = admin.post(f"{TENANT}members/", {"username": "ghost", "role": "viewer"})
    assert response.status_code == 400
    assert response.context["member_form"].errors["username"] == ["No active user 'ghost'."]


def test_a_deployer_creates_an_endpoint_and_a_duplicate_name_is_a_field_error(signed_in, world):
    deployer = signed_in("deployer")
    form = {
        "name": "summarise",
        "model_version": world.platform_model.pk,
        "preset": "cost",
        "min_replicas": 0,
        "max_replicas": 2,
    }
    assert deployer.post(f"{TENANT}endpoints/", form).url == "/tenants/acme/endpoints/summarise/"
    assert Endpoint.objects.get(name="summarise").scaling_policy.preset == "cost"
    response = deployer.post(f"{TENANT}endpoints/", form | {"name": "chat"})
    assert response.status_code == 409
    assert "already exists" in response.context["endpoint_form"].errors["name"][0]
    assert "Create endpoint" not in signed_in("viewer").get(TENANT).content.decode()


def test_the_scale_preview_shows_the_quota_effect_before_saving(signed_in, world):
    deployer = signed_in("deployer")
    fits = deployer.get(f"{ENDPOINT}scale/preview/", {"min_replicas": 0, "max_replicas": 4})
    assert "GPUs: 2 → 4 of 8" in fits.content.decode()
    over = deployer.get(f"{ENDPOINT}scale/preview/", {"min_replicas": 0, "max_replicas": 9})
    assert "over the quota" in over.content.decode()


def test_saving_scaling_over_the_quota_is_refused_with_the_numbers(signed_in, world):
    deployer = signed_in("deployer")
    response = deployer.post(f"{ENDPOINT}scale/", {"min_replicas": 0, "max_replicas": 9})
    assert response.status_code == 409
    errors = response.context["scale_form"].errors
    assert "Quota of tenant acme exceeded" in str(errors)
    assert (
        deployer.post(f"{ENDPOINT}scale/", {"min_replicas": 1, "max_replicas": 3}).status_code
        == 302
    )
    assert Endpoint.objects.get(pk=world.own_endpoint.pk).scaling_policy.max_replicas == 3
    assert AuditEvent.objects.filter(action="endpoint.update").exists()


def test_deleting_an_endpoint_from_the_console_marks_it_deleting(signed_in, world):
    assert "Delete endpoint" not in signed_in("viewer").get(ENDPOINT).content.decode()
    response = signed_in("deployer").post(f"{ENDPOINT}delete/")
    assert response.url == TENANT
    assert Endpoint.objects.get(pk=world.own_endpoint.pk).state == "deleting"


def test_a_platform_admin_creates_a_user_and_resets_a_password(signed_in, world):
    admin = signed_in("platform_admin")
    assert "Users" in admin.get("/").content.decode()
    response = admin.post(
        "/users/new/", {"username": "carol", "email": "", "password": "correct horse battery"}
    )
    assert response.url == "/users/"
    assert Client().login(username="carol", password="correct horse battery")
    weak = admin.post("/users/new/", {"username": "dave", "password": "password"})
    assert weak.status_code == 400
    assert weak.context["form"].errors["password"]
    admin.post("/users/carol/password/", {"password": "another fine passphrase"})
    assert Client().login(username="carol", password="another fine passphrase")
    admin.post("/users/carol/deactivate/")
    assert not Client().login(username="carol", password="another fine passphrase")


def test_tenant_roles_get_no_users_page(signed_in, world):
    admin = signed_in("tenant_admin")
    assert admin.get("/users/").status_code == 404
    assert 'href="/users/"' not in admin.get("/").content.decode()
    assert (
        admin.post("/users/new/", {"username": "x", "password": "long passphrase x"}).status_code
        == 403
    )


def test_an_api_key_is_shown_once_and_can_be_revoked(signed_in, world):
    viewer = signed_in("viewer")
    response = viewer.post("/keys/new/", {"name": "laptop"})
    assert response.status_code == 201
    key = response.context["new_key"]
    assert key in response.content.decode()
    assert key not in viewer.get("/keys/").content.decode()
    api = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert api.get("/api/v1/tenants/").status_code == 200
    stored = ApiKey.objects.get(name="laptop")
    assert viewer.post(f"/keys/{stored.prefix}/revoke/").status_code == 302
    assert api.get("/api/v1/tenants/").status_code == 401


def test_catalog_deprecation_follows_the_services_roles(signed_in, world):
    deployer = signed_in("deployer")
    page = deployer.get("/catalog/").content.decode()
    private, platform = world.own_private_model.pk, world.platform_model.pk
    assert f"/catalog/{private}/deprecate/" in page
    assert f"/catalog/{platform}/deprecate/" not in page
    assert deployer.post(f"/catalog/{platform}/deprecate/").status_code == 302
    world.platform_model.refresh_from_db()
    assert world.platform_model.state == "active"  # refused: platform admins only
    deployer.post(f"/catalog/{private}/deprecate/")
    world.own_private_model.refresh_from_db()
    assert world.own_private_model.state == "deprecated"


def test_the_scaling_editor_applies_a_preset_without_touching_the_bounds(signed_in, world):
    deployer = signed_in("deployer")
    response = deployer.post(
        f"{ENDPOINT}scale/", {"preset": "cost", "min_replicas": 1, "max_replicas": 2}
    )
    assert response.status_code == 302
    policy = Endpoint.objects.get(pk=world.own_endpoint.pk).scaling_policy
    assert (policy.preset, policy.min_replicas, policy.max_replicas) == ("cost", 1, 2)
    assert policy.target_queue_per_replica == 5.0  # the cost preset's trigger (balanced: 3)
