"""Every console page answers each role as the API would: own tenants shown, others 404,
mutating controls only for those allowed, and the same refusals in the same words."""

from __future__ import annotations

import re

import pytest
from django.test import Client, override_settings

from control_plane.audit import signing
from control_plane.audit.models import AuditEvent
from control_plane.audit.verify import verify_export
from control_plane.cluster.directory_backend import DirectoryBackend
from endpoints import services as endpoint_services
from endpoints.models import Rollout
from endpoints.reconciler import reconcile_endpoint
from endpoints.rollouts.services import rollout_start
from tenants.models import Tenant
from tenants.reconciler import reconcile_tenant
from tests.factories import system
from tests.world import gpu_model_spec

pytestmark = pytest.mark.django_db

ENDPOINT = "/tenants/acme/endpoints/chat/"


@pytest.fixture
def new_version(world):
    return endpoint_services.model_version_create(
        actor=system(), tenant=None, spec=gpu_model_spec(version="2")
    )


@pytest.mark.parametrize(
    "path",
    ["/", "/catalog/", "/audit/", "/tenants/acme/", ENDPOINT, f"{ENDPOINT}scaling/"],
)
@pytest.mark.parametrize(
    "role", ["platform_admin", "auditor", "tenant_admin", "deployer", "viewer"]
)
def test_every_page_answers_every_role(signed_in, world, path, role):
    response = signed_in(role).get(path)
    assert response.status_code == 200
    assert b'name="viewport"' in response.content


@pytest.mark.parametrize("path", ["/tenants/globex/", "/tenants/globex/endpoints/chat/"])
def test_another_tenants_pages_are_not_found(signed_in, world, path):
    assert signed_in("deployer").get(path).status_code == 404


@override_settings(DEBUG=False)
def test_a_missing_page_answers_in_the_console_layout(signed_in, world):
    response = signed_in("viewer").get("/tenants/nope/")
    assert response.status_code == 404
    assert b"Back to the console" in response.content
    assert b"No tenant" in response.content


def test_signed_out_visitors_are_sent_to_sign_in_and_sign_out_lands_there(signed_in, world):
    assert Client().get(ENDPOINT).url.startswith("/login/")
    response = signed_in("viewer").post("/logout/")
    assert response.url == "/login/"


def test_the_endpoint_page_shows_url_revisions_conditions_and_manifests(signed_in, world):
    page = signed_in("viewer").get(ENDPOINT).content.decode()
    assert world.own_endpoint.public_url in page
    assert "chat-r1" in page
    assert "kind: Deployment" in page


def test_viewers_see_no_rollout_controls_and_the_server_refuses_them(signed_in, world, new_version):
    viewer = signed_in("viewer")
    assert "Start rollout" not in viewer.get(ENDPOINT).content.decode()
    response = viewer.post(f"{ENDPOINT}rollouts/", {"model_version": new_version.pk})
    assert response.status_code in (400, 403)
    assert not Rollout.objects.exists()


def test_a_deployer_starts_a_rollout_from_the_console_and_lands_on_its_page(
    signed_in, world, new_version
):
    deployer = signed_in("deployer")
    assert "Start rollout" in deployer.get(ENDPOINT).content.decode()
    response = deployer.post(
        f"{ENDPOINT}rollouts/",
        {
            "model_version": new_version.pk,
            "strategy": "canary",
            "steps": "10,50,100",
            "analysis_interval_s": 60,
            "bake_s": 120,
            "warmup_s": 60,
        },
    )
    rollout = Rollout.objects.get()
    assert response.status_code == 302
    assert response.url == f"{ENDPOINT}rollouts/{rollout.pk}/"
    assert rollout.spec["steps"] == [10, 50, 100]
    page = deployer.get(response.url).content.decode()
    assert "chat-r1 → chat-r2" in page
    assert "promotion (100 %)" in page
    assert 'hx-trigger="every 5s"' in page


def test_a_refused_rollout_shows_the_api_message_next_to_the_field(signed_in, world, new_version):
    response = signed_in("deployer").post(
        f"{ENDPOINT}rollouts/",
        {
            "model_version": new_version.pk,
            "strategy": "canary",
            "steps": "10,50",
            "analysis_interval_s": 60,
            "bake_s": 120,
            "warmup_s": 60,
        },
    )
    assert response.status_code == 400
    assert response.context["form"].errors["steps"] == ["must end at 100 (the promotion), not 50"]


def test_rollout_actions_from_the_console_are_audited_and_refused_when_not_allowed(
    signed_in, world, new_version
):
    rollout = rollout_start(
        actor=system(), endpoint=world.own_endpoint, model_version=new_version, settings={}
    )
    page = f"{ENDPOINT}rollouts/{rollout.pk}/"
    deployer = signed_in("deployer")
    deployer.post(f"{page}pause/", {"reason": "investigating"})
    assert Rollout.objects.get().state == "paused"
    # Promote needs a ready canary: refused with the service's message.
    response = deployer.post(f"{page}promote/", {"reason": "hotfix"}, follow=True)
    assert "has not become ready" in response.content.decode()
    assert signed_in("viewer").post(f"{page}abort/").status_code == 302
    assert Rollout.objects.get().state == "paused"  # the viewer's abort was refused
    assert AuditEvent.objects.filter(action="rollout.abort", outcome="denied").exists()
    assert signed_in("deployer").get(page).status_code == 200
    assert signed_in("deployer").get(f"{page}unknown/").status_code == 405


def test_the_audit_log_filters_and_is_scoped(signed_in, world):
    admin = signed_in("tenant_admin")
    page = admin.get("/audit/", {"action": "endpoint.create"})
    events = list(page.context["page"])
    assert events
    assert {e.action for e in events} == {"endpoint.create"}
    assert {e.tenant_slug for e in events} == {"acme"}
    assert admin.get("/audit/", {"since": "not a time"}).status_code == 400


def test_the_fleet_overview_is_for_platform_roles_only(signed_in, world):
    fleet = signed_in("platform_admin").get("/").content.decode()
    assert "Fleet" in fleet
    assert "0 ready" in fleet
    assert "2 progressing" in fleet  # neither endpoint reconciled yet
    Tenant.objects.filter(pk=world.own.pk).update(
        quota_used={"requests.nvidia.com/gpu": "3", "requests.nvidia.com/mig-3g.40gb": "1"}
    )
    fleet = signed_in("platform_admin").get("/")
    assert fleet.context["fleet"]["gpus_in_use"] == 3
    assert b"Fleet" not in signed_in("tenant_admin").get("/").content


def test_api_docs_load_every_asset_from_this_server(signed_in, world):
    page = signed_in("viewer").get("/api/docs/").content.decode()
    assert "swagger-ui" in page
    # Every script and stylesheet comes from this server (a CSRF token may well spell "cdn").
    assert re.findall(r'(?:src|href)="(https?://[^"]*)"', page) == []
    assert "/static/drf_spectacular_sidecar/" in page


def test_the_endpoint_status_refreshes_itself_until_it_settles(signed_in, world, tmp_path):
    viewer = signed_in("viewer")
    assert 'hx-select="#endpoint-status"' in viewer.get(ENDPOINT).content.decode()
    backend = DirectoryBackend(tmp_path / "manifests")
    reconcile_tenant(world.own.pk, backend=backend)
    reconcile_endpoint(world.own_endpoint.pk, backend=backend)
    page = viewer.get(ENDPOINT).content.decode()
    assert 'hx-select="#endpoint-status"' not in page
    assert "ManifestsWritten" in page


def test_without_prometheus_the_comparison_form_offers_a_trace_upload(signed_in, world, settings):
    settings.PROMETHEUS_URL = ""
    form = signed_in("viewer").get(f"{ENDPOINT}scaling/").context["form"]
    assert form.initial["source"] == "trace"


def test_the_audit_log_downloads_a_signed_export_of_what_it_shows(
    signed_in, world, tmp_path, settings
):
    key_file = tmp_path / "audit-signing.pem"
    signing.generate_key_file(key_file)
    settings.AUDIT_SIGNING_KEY_FILE = str(key_file)
    settings.AUDIT_SIGNING_KEY_GENERATE = False
    admin = signed_in("tenant_admin")
    page = admin.get("/audit/", {"tenant": "acme"})
    links = dict(page.context["exports"])
    export = admin.get(links["CSV"])
    assert export.status_code == 200
    body = b"".join(export.streaming_content)
    manifest = admin.get(links["CSV manifest"]).json()
    (tmp_path / "audit.csv").write_bytes(body)
    public_key = signing.signing_key().public_key()
    assert verify_export(tmp_path / "audit.csv", manifest, public_key) == []
    assert (
        manifest["row_count"]
        == AuditEvent.objects.filter(tenant_slug="acme", id__lte=manifest["last_event_id"]).count()
    )


def test_the_tenant_switcher_lists_the_persons_tenants_and_goes_there(signed_in, world):
    deployer = signed_in("deployer")
    page = deployer.get("/").content.decode()
    assert 'id="tenant-switcher"' in page
    assert '<option value="acme"' in page
    assert '<option value="globex"' not in page
    assert deployer.get("/switch/", {"slug": "acme"}).url == "/tenants/acme/"
    assert deployer.get("/switch/", {"slug": "globex"}).status_code == 404
