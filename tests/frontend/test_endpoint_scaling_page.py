"""The console's comparison of an endpoint's scaling policy with the presets."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client

from tests.servers import free_port
from tests.world import build_world


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def viewer(world) -> Client:
    client = Client()
    client.force_login(world.users["viewer"])
    return client


def trace_csv(n: int = 600) -> bytes:
    lines = ["TIMESTAMP,ContextTokens,GeneratedTokens"]
    for i in range(n):
        lines.append(f"2023-11-16 18:{15 + i // 60:02d}:{i % 60:02d}.5000000,{300 + i % 7},20")
    return ("\n".join(lines) + "\n").encode()


PROMETHEUS_FORM = {
    "source": "prometheus",
    "window_hours": 1,
    "rate_scale": 1,
    "slo_ttft_ms": 1000,
    "cold_start": "cached",
}


def url(tenant: str = "acme", endpoint: str = "chat") -> str:
    return f"/tenants/{tenant}/endpoints/{endpoint}/scaling/"


def compare_trace(client: Client, content: bytes, **fields):
    data = {
        "source": "trace",
        "window_hours": 24,
        "rate_scale": 4,
        "slo_ttft_ms": 1000,
        "cold_start": "cached",
        "trace": SimpleUploadedFile("trace.csv", content, content_type="text/csv"),
        **fields,
    }
    return client.post(url(), data)


def test_page_shows_the_policy_and_says_when_prometheus_is_not_configured(viewer, settings):
    settings.PROMETHEUS_URL = ""
    response = viewer.get(url())
    assert response.status_code == 200
    page = response.content.decode()
    assert "Scaling of chat" in page
    assert "Queue target per replica" in page
    assert "Prometheus is not configured" in page


def test_another_tenants_endpoint_and_a_missing_one_answer_404(viewer):
    assert viewer.get(url(tenant="globex")).status_code == 404
    assert viewer.get(url(endpoint="nope")).status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in():
    response = Client().get(url())
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_home_links_each_endpoint_whose_page_links_its_scaling_page(viewer):
    page = viewer.get("/").content.decode()
    assert 'href="/tenants/acme/endpoints/chat/"' in page
    assert f'href="{url()}"' in viewer.get("/tenants/acme/endpoints/chat/").content.decode()


def test_uploaded_trace_gives_the_same_figures_as_the_command(viewer, tmp_path):
    response = compare_trace(viewer, trace_csv())
    assert response.status_code == 200, response.content.decode()[:2000]
    rows = response.context["rows"]
    path = tmp_path / "trace.csv"
    path.write_bytes(trace_csv())
    out = StringIO()
    call_command(
        "simulate_scaling",
        "--trace",
        str(path),
        "--policy",
        "balanced",
        "--max-replicas",
        "2",  # the world's endpoint runs `balanced` at max 2
        "--rate-scale",
        "4",
        "--compare",
        "--json",
        stdout=out,
    )
    expected = json.loads(out.getvalue())["policies"]
    # The endpoint runs the balanced preset unchanged, so it is one row rather than two.
    assert [row["policy"] for row in rows] == ["current (= balanced)", "latency", "cost"]
    assert [row["policy"] for row in expected] == ["balanced", "latency", "cost"]
    for shown, printed in zip(rows, expected, strict=True):
        for key in ("gpu_hours", "gpu_hours_vs_oracle", "slo_attainment", "cold_starts"):
            assert shown[key] == printed[key], key
    page = response.content.decode()
    assert "Results on 600 requests" in page
    assert "data:image/png;base64," in page


def test_trace_source_without_a_file_is_refused_naming_the_field(viewer):
    response = viewer.post(url(), PROMETHEUS_FORM | {"source": "trace"})
    assert response.status_code == 400
    assert "trace" in response.context["form"].errors
    assert "Choose a trace file" in response.content.decode()


def test_a_trace_without_the_azure_columns_is_refused_with_the_missing_column(viewer):
    response = compare_trace(viewer, b"time,prompt\n1,2\n")
    assert response.status_code == 400
    assert "ContextTokens" in str(response.context["form"].errors["trace"])


def test_out_of_range_fields_are_refused_one_by_one(viewer):
    response = compare_trace(viewer, trace_csv(10), slo_ttft_ms=0, rate_scale=-1)
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"slo_ttft_ms", "rate_scale"}


def test_a_trace_over_the_interactive_limit_points_to_the_command(viewer, monkeypatch):
    monkeypatch.setattr("frontend.views.MAX_INTERACTIVE_REQUESTS", 100)
    response = compare_trace(viewer, trace_csv(300))
    assert response.status_code == 400
    assert "more than 100 requests" in str(response.context["form"].errors["trace"])


def test_prometheus_source_without_prometheus_says_why(viewer, settings):
    settings.PROMETHEUS_URL = ""
    response = viewer.post(url(), PROMETHEUS_FORM)
    assert response.status_code == 503
    assert "PROMETHEUS_URL is empty" in response.content.decode()


def test_prometheus_that_does_not_answer_is_reported_not_raised(viewer, settings):
    settings.PROMETHEUS_URL = f"http://127.0.0.1:{free_port()}"
    settings.PROMETHEUS_TIMEOUT_SECONDS = 2
    response = viewer.post(url(), PROMETHEUS_FORM)
    assert response.status_code == 503
    assert "Prometheus did not answer" in response.content.decode()
