"""`GET .../scaling-recommendation/`: its query is checked field by field, another tenant's
endpoint is invisible, and a Prometheus that is missing or down is a 503 that says so. The
answer on real traffic is pinned in tests/telemetry/test_request_history.py."""

from __future__ import annotations

import pytest

from tests.servers import free_port

pytestmark = pytest.mark.django_db

URL = "/api/v1/tenants/{}/endpoints/chat/scaling-recommendation/"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"since": "a week"}, "since"),
        ({"since": "0d"}, "since"),
        ({"since": "7w"}, "since"),
        ({"slo_ttft_ms": 0}, "slo_ttft_ms"),
        ({"slo_ttft_ms": "fast"}, "slo_ttft_ms"),
        ({"goal": 1.5}, "goal"),
    ],
)
def test_a_bad_query_is_a_400_naming_the_field(client_for, query, field):
    response = client_for("viewer").get(URL.format("acme"), query)
    assert response.status_code == 400
    error = response.json()["error"]
    assert set(error["fields"]) == {field}


def test_it_validates_ownership(client_for):
    response = client_for("deployer").get(URL.format("globex"))
    assert response.status_code == 404
    missing = client_for("deployer").get(
        "/api/v1/tenants/acme/endpoints/nope/scaling-recommendation/"
    )
    assert missing.status_code == 404


def test_without_prometheus_it_is_a_503_that_says_why(client_for, settings):
    settings.PROMETHEUS_URL = ""
    response = client_for("viewer").get(URL.format("acme"), {"since": "24h"})
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "unavailable"
    assert "PROMETHEUS_URL is empty" in error["message"]


def test_a_window_shorter_than_two_steps_is_a_400_on_since(client_for, settings):
    settings.PROMETHEUS_URL = f"http://127.0.0.1:{free_port()}"
    response = client_for("viewer").get(URL.format("acme"), {"since": "90s"})
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"since"}


def test_an_unreachable_prometheus_is_a_503_not_a_500(client_for, settings):
    settings.PROMETHEUS_URL = f"http://127.0.0.1:{free_port()}"
    response = client_for("viewer").get(URL.format("acme"))
    assert response.status_code == 503
    assert "Cannot read the endpoint's traffic" in response.json()["error"]["message"]
