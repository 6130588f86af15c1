"""A platform team's first hour in a real browser, against a live server and a real Celery
worker (its own process, the test Redis as broker, the directory backend): a user, a tenant, its
quota and a member; an endpoint that reaches its condition while the page watches; a scaling
change with its quota effect shown first; the audit log and its CSV export."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from endpoints.services import model_version_create
from tests.factories import PASSWORD, platform_user, system
from tests.integration.test_celery_provisioning import ROOT, broker, worker_process  # noqa: F401
from tests.world import gpu_model_spec

pytestmark = pytest.mark.django_db(transaction=True)

ARTIFACTS = ROOT / ".run" / "test-artifacts"


@pytest.fixture
def worker(broker, tmp_path):  # noqa: F811
    manifests = tmp_path / "manifests"
    cluster = {"CLUSTER_BACKEND": "directory", "CLUSTER_DIRECTORY": str(manifests)}
    with worker_process(broker, cluster, tmp_path / "worker.log"):
        yield manifests


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_a_platform_team_sets_up_a_tenant_and_an_endpoint(live_server, page, worker, tmp_path):
    admin = platform_user("admin")
    model_version_create(actor=system(), tenant=None, spec=gpu_model_spec())
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", admin.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")

    page.get_by_role("link", name="Users").click()
    page.get_by_label("Username").fill("erin")
    page.get_by_label("Password", exact=True).fill("a long enough passphrase")
    page.get_by_role("button", name="Create user").click()
    expect(page.locator(".messages")).to_contain_text("User erin created")

    page.get_by_role("link", name="Tenants").click()
    page.get_by_text("Create a tenant").click()
    page.get_by_label("Slug", exact=True).fill("initech")
    page.get_by_label("Display name", exact=True).fill("Initech")
    page.get_by_role("button", name="Create tenant").click()
    expect(page.get_by_role("heading", name="Initech (initech)")).to_be_visible()

    page.get_by_text("Change the quota").click()
    page.get_by_label("GPUs", exact=True).fill("4")
    page.get_by_label("Endpoints", exact=True).fill("3")
    page.get_by_label("CPU", exact=True).fill("64")
    page.get_by_label("Memory", exact=True).fill("256Gi")
    page.get_by_role("button", name="Save quota").click()
    expect(page.locator(".messages")).to_contain_text("Quota saved")

    page.get_by_text("Add a member").click()
    page.get_by_label("Username").fill("erin")
    page.get_by_label("Role", exact=True).select_option("deployer")
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_text("erin · deployer")).to_be_visible()
    _shot(page, "flow-tenant")

    page.get_by_text("Create an endpoint").click()
    page.get_by_label("Name", exact=True).fill("chat")
    page.get_by_label("Minimum replicas", exact=True).fill("0")
    page.get_by_label("Maximum replicas", exact=True).fill("2")
    page.get_by_role("button", name="Create endpoint").click()
    expect(page.get_by_role("heading", name="Endpoint chat")).to_be_visible()
    # The worker provisions the namespace, then the endpoint; the page refreshes itself.
    expect(page.locator("#endpoint-status")).to_contain_text("ManifestsWritten", timeout=45_000)
    assert (worker / "tenant-initech").is_dir()

    page.get_by_label("Maximum replicas", exact=True).fill("3")
    expect(page.locator("#quota-effect")).to_contain_text("GPUs: 2 → 3 of 4")
    page.get_by_role("button", name="Save scaling").click()
    expect(page.locator(".messages")).to_contain_text("Scaling saved")
    _shot(page, "flow-endpoint")

    page.get_by_role("link", name="Audit log").click()
    page.get_by_label("Tenant", exact=True).fill("initech")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tbody")).to_contain_text("endpoint.update")
    with page.expect_download() as download:
        page.get_by_role("link", name="CSV", exact=True).click()
    path = Path(tmp_path / "audit.csv")
    download.value.save_as(path)
    lines = path.read_text().splitlines()
    assert lines[0].startswith("id,")
    assert any("endpoint.create" in line for line in lines[1:])
    _shot(page, "flow-audit")
