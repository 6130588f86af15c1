"""A rollout in a real browser: a deployer starts one from the endpoint page and watches its
first check appear on the rollout page without reloading it."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from control_plane.cluster.directory_backend import DirectoryBackend
from endpoints import services as endpoint_services
from endpoints.models import Rollout
from endpoints.reconciler import reconcile_endpoint
from endpoints.rollouts.reconciler import reconcile_rollout
from tenants.reconciler import reconcile_tenant
from tests.factories import PASSWORD, system
from tests.world import build_world, gpu_model_spec

pytestmark = pytest.mark.django_db(transaction=True)

# Screenshots for a person to look at after a run; ignored by git.
ARTIFACTS = Path(__file__).resolve().parents[2] / ".run" / "test-artifacts"


def test_a_deployer_starts_a_rollout_and_sees_its_first_check_appear(
    live_server, page, settings, tmp_path
):
    settings.PROMETHEUS_URL = ""  # no telemetry: the first check is inconclusive, and says why
    settings.ROLLOUT_MIN_INTERVAL_SECONDS = 1
    world = build_world()
    endpoint_services.model_version_create(
        actor=system(), tenant=None, spec=gpu_model_spec(version="2")
    )
    backend = DirectoryBackend(tmp_path / "manifests")
    reconcile_tenant(world.own.pk, backend=backend)

    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", world.users["deployer"].username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.get_by_role("link", name="chat").first.click()
    expect(page.get_by_role("heading", name="Endpoint chat")).to_be_visible()
    page.get_by_label("Model version").select_option(label="llama-8b:2")
    page.get_by_label("Analysis interval (s)").fill("1")
    page.get_by_label("Warm-up after ready (s)").fill("0")
    page.get_by_role("button", name="Start rollout").click()
    expect(page.get_by_role("heading", name="Rollout")).to_contain_text("chat-r1 → chat-r2")
    expect(page.get_by_text("No check yet")).to_be_visible()

    # The workers' part, done here: the canary's manifests are written, it counts as ready,
    # and after one interval the first check runs.
    rollout = Rollout.objects.get()
    for _ in range(2):
        reconcile_endpoint(world.own_endpoint.pk, backend=backend)
        reconcile_rollout(rollout.pk, backend=backend)
        page.wait_for_timeout(1100)
    reconcile_rollout(rollout.pk, backend=backend)
    assert Rollout.objects.get().checks.exists()

    status = page.locator("#rollout-status")
    expect(status).to_contain_text("inconclusive", timeout=10_000)
    expect(status).to_contain_text("no Prometheus is configured")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "rollout-first-check.png"), full_page=True)
