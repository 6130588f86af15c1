"""The endpoint page's live charts: from a real Prometheus scraping a simulator, and a clear
state without one."""

from __future__ import annotations

import time

import pytest
import requests
from django.test import Client

from scaling.vllm_simulator import SimulatorConfig, VllmSimulator
from tests.world import build_world

pytestmark = pytest.mark.django_db

TELEMETRY = "/tenants/acme/endpoints/chat/telemetry/"


@pytest.fixture
def viewer(db):
    world = build_world()
    client = Client()
    client.force_login(world.users["viewer"])
    return client


def test_without_prometheus_the_charts_say_telemetry_is_not_configured(viewer, settings):
    settings.PROMETHEUS_URL = ""
    page = viewer.get(TELEMETRY).content.decode()
    assert "Telemetry not available" in page
    assert "PROMETHEUS_URL" in page


def test_charts_show_the_endpoints_replicas_and_requests(viewer, settings, prometheus_session):
    simulator = VllmSimulator(SimulatorConfig(ttft_ms=5, itl_ms=1, default_max_tokens=2))
    simulator.start()
    try:
        labels = {"namespace": "tenant-acme", "endpoint": "chat", "revision": "chat-r1"}
        prometheus_session.scrape([(simulator.url.removeprefix("http://"), labels)])
        settings.PROMETHEUS_URL = prometheus_session.url
        for _ in range(20):
            body = {"model": simulator.config.model, "prompt": "hello"}
            requests.post(f"{simulator.url}/v1/completions", json=body, timeout=5)
        time.sleep(2.5)
        response = viewer.get(TELEMETRY)
        charts = {chart["title"]: chart for chart in response.context["charts"]}
        assert charts["Replicas reporting"]["latest"] == 1
        assert charts["Requests per second"]["highest"] > 0
        assert charts["TTFT p95"]["highest"] > 0
        assert "<polyline" in response.content.decode()
    finally:
        prometheus_session.scrape([])
        simulator.stop()
