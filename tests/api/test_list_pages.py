"""Paging through the lists that read through compiled queries gives every row once, in order,
with the count and the links DRF's page-number pagination gives."""

from __future__ import annotations

import pytest

from control_plane.audit.services import record
from tests.factories import system
from tests.world import make_endpoint

pytestmark = pytest.mark.django_db


def _pages(client, url: str, page_size: int, **filters) -> tuple[list[dict], list[dict]]:
    """(the rows of every page, page after page; the bodies)."""
    rows, bodies, page = [], [], 1
    while True:
        body = client.get(url, {**filters, "page_size": page_size, "page": page}).json()
        bodies.append(body)
        rows += body["results"]
        if body["next"] is None:
            return rows, bodies
        page += 1


def test_the_endpoint_list_pages_through_every_endpoint_by_name(world, client_for):
    for name in ("kilo", "alpha", "hotel", "echo"):  # with the world's, the quota's five
        make_endpoint(world.own, name, world.platform_model, min_replicas=0, max_replicas=1)
    client = client_for("viewer")
    url = "/api/v1/tenants/acme/endpoints/"

    rows, bodies = _pages(client, url, page_size=2)

    whole = client.get(url, {"page_size": 500}).json()
    assert [r["name"] for r in rows] == sorted(r["name"] for r in whole["results"])
    assert rows == whole["results"]
    assert len(bodies) == 3
    assert {body["count"] for body in bodies} == {whole["count"]}
    assert bodies[0]["previous"] is None
    assert bodies[-1]["next"] is None
    assert client.get(url, {"page_size": 2, "page": 4}).status_code == 404


def test_the_audit_list_pages_through_a_tenants_events_newest_first(world, client_for):
    for i in range(11):
        record(actor=system(), action="bulk", target_type="t", target_id=i, tenant_slug="acme")
    client = client_for("tenant_admin")
    url = "/api/v1/audit-events/"

    rows, bodies = _pages(client, url, page_size=4, tenant="acme", action="bulk")

    assert [int(r["target_id"]) for r in rows] == list(range(10, -1, -1))
    assert {body["count"] for body in bodies} == {11}
    assert len(bodies) == 3
