"""The endpoint scaling page in a real browser: sign in, upload a trace, read the comparison."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD
from tests.world import build_world

pytestmark = pytest.mark.django_db(transaction=True)


def write_trace(path, n: int = 600):
    lines = ["TIMESTAMP,ContextTokens,GeneratedTokens"]
    for i in range(n):
        lines.append(f"2023-11-16 18:{15 + i // 60:02d}:{i % 60:02d}.5000000,{300 + i % 7},20")
    path.write_text("\n".join(lines) + "\n")
    return path


def sign_in_and_open_scaling(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.get_by_role("link", name="chat").click()
    page.get_by_role("link", name="Scaling policy and comparison").click()
    expect(page.get_by_role("heading", name="Scaling of chat")).to_be_visible()


def test_a_viewer_compares_the_policy_with_the_presets_on_an_uploaded_trace(
    live_server, page, tmp_path, settings
):
    settings.PROMETHEUS_URL = ""
    world = build_world()
    sign_in_and_open_scaling(page, live_server, world.users["viewer"].username)
    expect(page.get_by_role("status")).to_contain_text("Prometheus is not configured")

    page.check("input[name=source][value=trace]")
    page.set_input_files("input[name=trace]", str(write_trace(tmp_path / "trace.csv")))
    page.fill("input[name=rate_scale]", "4")
    page.get_by_role("button", name="Compare").click()

    rows = page.locator("#comparison tbody tr")
    expect(rows).to_have_count(4)  # the endpoint's policy (= balanced), latency, cost, oracle
    expect(rows.nth(0)).to_contain_text("current (= balanced)")
    expect(rows.nth(3)).to_contain_text("oracle")
    expect(page.get_by_role("heading", name="Results on 600 requests")).to_be_visible()
    plot = page.get_by_alt_text("Arrivals, replicas and TTFT p95 of the current policy over time")
    assert plot.evaluate("img => img.complete && img.naturalWidth > 0")


def test_choosing_a_trace_without_a_file_shows_the_fields_error(live_server, page, settings):
    settings.PROMETHEUS_URL = ""
    world = build_world()
    sign_in_and_open_scaling(page, live_server, world.users["viewer"].username)
    page.check("input[name=source][value=trace]")
    page.get_by_role("button", name="Compare").click()
    expect(page.locator(".errorlist")).to_contain_text("Choose a trace file")
    expect(page.locator("#comparison")).to_have_count(0)
