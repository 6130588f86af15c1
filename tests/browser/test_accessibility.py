"""Accessibility: axe-core (the bundle axe-playwright-python ships, axe 4.12) finds no serious
or critical violation on any console page, and the API docs render with the network off."""

from __future__ import annotations

from pathlib import Path

import axe_playwright_python
import pytest

from endpoints import services as endpoint_services
from endpoints.rollouts.services import rollout_start
from tests.factories import PASSWORD, system
from tests.world import build_world, gpu_model_spec

pytestmark = pytest.mark.django_db(transaction=True)

AXE = Path(axe_playwright_python.__file__).with_name("axe.min.js")


def _violations(page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document)")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:3]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_no_console_page_has_a_serious_accessibility_violation(live_server, page):
    world = build_world()
    version = endpoint_services.model_version_create(
        actor=system(), tenant=None, spec=gpu_model_spec(version="2")
    )
    rollout = rollout_start(
        actor=system(), endpoint=world.own_endpoint, model_version=version, settings={}
    )
    page.goto(f"{live_server.url}/login/")
    assert _violations(page) == []
    page.fill("input[name=username]", world.users["platform_admin"].username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    endpoint = "/tenants/acme/endpoints/chat/"
    for path in (
        "/",
        "/tenants/acme/",
        endpoint,
        f"{endpoint}rollouts/{rollout.pk}/",
        f"{endpoint}scaling/",
        f"{endpoint}scaling/recommendation/",
        "/catalog/",
        "/audit/",
        "/users/",
        "/keys/",
    ):
        page.goto(f"{live_server.url}{path}")
        assert _violations(page) == [], path
        # A phone's width: the page itself never scrolls sideways (wide tables scroll inside
        # their own box).
        page.set_viewport_size({"width": 390, "height": 844})
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
        page.set_viewport_size({"width": 1280, "height": 800})


def test_api_docs_render_with_the_network_off(live_server, page):
    world = build_world()
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", world.users["viewer"].username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    # Only the live server answers; any other host fails, as on an air-gapped cluster.
    page.route(
        "**/*",
        lambda route: (
            route.continue_() if route.request.url.startswith(live_server.url) else route.abort()
        ),
    )
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".swagger-ui .opblock", timeout=15_000)
    assert page.locator(".swagger-ui .opblock").count() > 10
