"""The console's scaling recommendation: linked from the scaling page, its query checked field
by field, Prometheus trouble said on the page, and Apply the same audited change as the API's
PATCH, for deployers and admins only. The page on real traffic is pinned in
tests/telemetry/test_request_history.py."""

from __future__ import annotations

import json

from control_plane.audit.models import AuditEvent
from endpoints.models import Endpoint

PATCH = {
    "scaling": {
        "target_queue_per_replica": 1.0,
        "target_kv_cache_usage_per_replica": 0.6,
        "schedule_floors": [
            {
                "days": ["mon", "tue"],
                "start": "08:55",
                "end": "10:00",
                "timezone": "UTC",
                "min_replicas": 2,
            }
        ],
    }
}


def url(tenant: str = "acme", endpoint: str = "chat", suffix: str = "") -> str:
    return f"/tenants/{tenant}/endpoints/{endpoint}/scaling/recommendation/{suffix}"


def policy() -> dict:
    endpoint = Endpoint.objects.select_related("scaling_policy").get(
        tenant__slug="acme", name="chat"
    )
    return {
        "queue": endpoint.scaling_policy.target_queue_per_replica,
        "floors": endpoint.scaling_policy.schedule_floors,
    }


def test_the_scaling_page_links_the_recommendation_which_asks_before_computing(signed_in, world):
    viewer = signed_in("viewer")
    scaling = viewer.get("/tenants/acme/endpoints/chat/scaling/").content.decode()
    assert f'href="{url()}"' in scaling
    response = viewer.get(url())
    assert response.status_code == 200
    page = response.content.decode()
    assert "Scaling recommendation for chat" in page
    assert 'name="since"' in page
    assert "Recommended:" not in page


def test_without_prometheus_the_page_says_why_with_a_503(signed_in, world, settings):
    settings.PROMETHEUS_URL = ""
    response = signed_in("viewer").get(url(), {"since": "24h", "slo_ttft_ms": 1000})
    assert response.status_code == 503
    assert "PROMETHEUS_URL is empty" in response.content.decode()


def test_a_bad_window_is_refused_beside_its_field(signed_in, world):
    response = signed_in("viewer").get(url(), {"since": "soon", "slo_ttft_ms": 1000})
    assert response.status_code == 400
    assert "not a positive duration" in str(response.context["form"].errors["since"])


def test_it_validates_ownership(signed_in, world):
    viewer = signed_in("viewer")
    assert viewer.get(url(tenant="globex")).status_code == 404
    assert viewer.post(url(tenant="globex", suffix="apply/"), {"patch": "{}"}).status_code == 404


def test_apply_is_the_audited_scaling_change_of_the_api(signed_in, world):
    before = AuditEvent.objects.filter(action="endpoint.update").count()
    response = signed_in("deployer").post(url(suffix="apply/"), {"patch": json.dumps(PATCH)})
    assert response.status_code == 302
    assert response["Location"] == "/tenants/acme/endpoints/chat/scaling/"
    assert policy() == {"queue": 1.0, "floors": PATCH["scaling"]["schedule_floors"]}
    event = AuditEvent.objects.filter(action="endpoint.update").latest("id")
    assert AuditEvent.objects.filter(action="endpoint.update").count() == before + 1
    assert event.changes["scaling.target_queue_per_replica"]


def test_a_viewer_cannot_apply(signed_in, world):
    before = policy()
    response = signed_in("viewer").post(url(suffix="apply/"), {"patch": json.dumps(PATCH)})
    assert response.status_code == 403
    assert policy() == before


def test_a_refused_change_is_said_and_changes_nothing(signed_in, world):
    before = policy()
    bad = {"scaling": {"target_kv_cache_usage_per_replica": 2}}
    client = signed_in("deployer")
    response = client.post(url(suffix="apply/"), {"patch": json.dumps(bad)}, follow=True)
    messages = [str(m) for m in response.context["messages"]]
    assert messages == [
        "scaling.target_kv_cache_usage_per_replica: must be a number from 0.01 to 1"
    ]
    assert policy() == before
