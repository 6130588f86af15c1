"""A first page holding every row is counted from its rows; longer lists are counted in SQL."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.world import make_endpoint

pytestmark = pytest.mark.django_db


def _get(client, path: str, **params):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, params)
    assert response.status_code == 200
    counts = [q for q in queries.captured_queries if "COUNT(*)" in q["sql"]]
    return response.json(), counts


def test_a_list_that_fits_in_its_first_page_runs_no_count_query(world, client_for):
    body, counts = _get(client_for("tenant_admin"), "/api/v1/tenants/acme/endpoints/")
    assert counts == []
    assert body["count"] == len(body["results"]) == 1
    assert body["next"] is None


def test_a_first_page_exactly_full_is_counted_from_its_rows(world, client_for):
    make_endpoint(world.own, "second", world.platform_model, max_replicas=1)
    body, counts = _get(client_for("tenant_admin"), "/api/v1/tenants/acme/endpoints/", page_size=2)
    assert counts == []
    assert (body["count"], body["next"]) == (2, None)


def test_a_list_longer_than_its_first_page_is_counted_and_links_the_next(world, client_for):
    for name in ("second", "third"):
        make_endpoint(world.own, name, world.platform_model, max_replicas=1)
    client = client_for("tenant_admin")
    first, counts = _get(client, "/api/v1/tenants/acme/endpoints/", page_size=2)
    assert len(counts) == 1
    assert first["count"] == 3
    assert [row["name"] for row in first["results"]] == ["chat", "second"]
    assert "page=2" in first["next"]
    second, _ = _get(client, "/api/v1/tenants/acme/endpoints/", page_size=2, page=2)
    assert [row["name"] for row in second["results"]] == ["third"]
    assert second["count"] == 3
    assert second["next"] is None
