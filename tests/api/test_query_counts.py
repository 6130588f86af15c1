"""List routes cost a constant number of queries: 10 rows and 200 rows, same count."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from control_plane.audit.services import record
from endpoints.models import Endpoint, ModelVersion, Revision, Rollout
from scaling.models import ScalingPolicy
from tenants.models import ApiKey, Membership, Quota, Tenant
from tests.factories import UserFactory, system
from tests.world import scaling

pytestmark = pytest.mark.django_db


def _tenants(world, count):
    tenants = Tenant.objects.bulk_create(
        [Tenant(slug=f"bulk{len(world.extra)}-{i}", display_name="x") for i in range(count)]
    )
    Quota.objects.bulk_create([Quota(tenant=t) for t in tenants])
    world.extra[len(world.extra)] = count


def _members(world, count):
    users = [UserFactory(username=f"m{Membership.objects.count()}-{i}") for i in range(count)]
    Membership.objects.bulk_create(
        [Membership(tenant=world.own, user=u, role="viewer") for u in users]
    )


def _endpoints(world, count):
    """Every third endpoint has a canary in an active rollout and every third a retiring
    revision too, so each revision slot and the rollouts are read for some rows."""
    start = Endpoint.objects.count()
    endpoints = Endpoint.objects.bulk_create(
        [
            Endpoint(tenant=world.own, name=f"ep{start + i}", served_model_name="m")
            for i in range(count)
        ]
    )
    version = world.platform_model
    stable = Revision.objects.bulk_create(
        [Revision(endpoint=e, model_version=version, number=2) for e in endpoints]
    )
    canaries = Revision.objects.bulk_create(
        [Revision(endpoint=e, model_version=version, number=3) for e in endpoints[::3]]
    )
    retiring = Revision.objects.bulk_create(
        [Revision(endpoint=e, model_version=version, number=1) for e in endpoints[1::3]]
    )
    for endpoint, revision in zip(endpoints, stable, strict=True):
        endpoint.stable_revision = revision
    for endpoint, revision in zip(endpoints[::3], canaries, strict=True):
        endpoint.canary_revision = revision
    for endpoint, revision in zip(endpoints[1::3], retiring, strict=True):
        endpoint.retiring_revision = revision
    Endpoint.objects.bulk_update(
        endpoints, ["stable_revision", "canary_revision", "retiring_revision"]
    )
    Rollout.objects.bulk_create(
        [
            Rollout(
                endpoint=e,
                from_revision=e.stable_revision,
                to_revision=e.canary_revision,
                strategy=Rollout.Strategy.CANARY,
                state=Rollout.State.PROGRESSING,
                weight=10,
            )
            for e in endpoints[::3]
        ]
    )
    values = scaling().as_json()
    ScalingPolicy.objects.bulk_create([ScalingPolicy(endpoint=e, **values) for e in endpoints])


def _model_versions(world, count):
    start = ModelVersion.objects.count()
    ModelVersion.objects.bulk_create(
        [
            ModelVersion(
                name=f"bulk{start + i}",
                version="1",
                source="huggingface",
                hf_repo="o/m",
                image="i",
                gpus_per_replica=1,
            )
            for i in range(count)
        ]
    )


def _api_keys(world, count):
    start = ApiKey.objects.count()
    ApiKey.objects.bulk_create(
        [
            ApiKey(
                user=world.users["platform_admin"],
                name="k",
                prefix=f"p{start + i:07d}",
                secret_hash="0" * 64,
            )
            for i in range(count)
        ]
    )


def _audit_events(world, count):
    for i in range(count):
        record(actor=system(), action="bulk", target_type="t", target_id=i, tenant_slug="acme")


LIST_ROUTES = [
    ("/api/v1/tenants/", _tenants),
    ("/api/v1/tenants/acme/members/", _members),
    ("/api/v1/tenants/acme/endpoints/", _endpoints),
    ("/api/v1/model-versions/", _model_versions),
    ("/api/v1/api-keys/", _api_keys),
    ("/api/v1/audit-events/", _audit_events),
]


def _count_queries(client, path: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, {"page_size": 500})
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize(("path", "grow"), LIST_ROUTES, ids=[p for p, _ in LIST_ROUTES])
def test_list_route_costs_the_same_queries_for_10_and_200_rows(world, client_for, path, grow):
    client = client_for("platform_admin")
    client.get(path)  # the key's first use records last_used_at once; keep it out of the count
    grow(world, 10)
    small = _count_queries(client, path)
    grow(world, 190)
    large = _count_queries(client, path)
    assert len(client.get(path, {"page_size": 500}).json()["results"]) >= 200
    assert large == small


def test_endpoint_list_shows_every_revision_slot_and_the_active_rollout(world, client_for):
    _endpoints(world, 3)
    client = client_for("platform_admin")
    rows = client.get("/api/v1/tenants/acme/endpoints/", {"page_size": 500}).json()["results"]
    shown = {row["name"]: row for row in rows}
    first = shown[Endpoint.objects.filter(name__startswith="ep").order_by("pk").first().name]
    assert first["stable_revision"]["name"].endswith("-r2")
    assert first["canary_revision"]["name"].endswith("-r3")
    assert first["active_rollout"]["to_revision"] == first["canary_revision"]["name"]
    assert first["active_rollout"]["weight"] == 10
    second = shown[Endpoint.objects.filter(name__startswith="ep").order_by("pk")[1].name]
    assert second["retiring_revision"]["name"].endswith("-r1")
    assert second["active_rollout"] is None


def test_an_api_key_request_costs_one_query_for_the_key_and_one_for_the_memberships(
    world, client_for, django_assert_num_queries
):
    client = client_for("auditor")
    client.get("/api/v1/tenants/acme/")  # the key's first use records last_used_at once
    # The key with its user and platform role, the memberships, then the tenant itself.
    with django_assert_num_queries(3):
        assert client.get("/api/v1/tenants/acme/").status_code == 200


def test_an_endpoint_read_loads_its_revisions_in_one_query_whatever_the_slots_hold(
    world, client_for, django_assert_num_queries
):
    _endpoints(world, 3)  # the first has a canary, the second a retiring revision
    client = client_for("platform_admin")
    client.get("/api/v1/tenants/acme/")  # the key's first use records last_used_at once
    names = list(Endpoint.objects.filter(name__startswith="ep").order_by("pk").values_list("name"))
    for (name,) in [*names, (world.own_endpoint.name,)]:
        # The key, the memberships, the tenant, the endpoint with its scaling policy, its
        # revisions in service with their model versions, its active rollout.
        with django_assert_num_queries(6):
            body = client.get(f"/api/v1/tenants/acme/endpoints/{name}/").json()
        assert body["stable_revision"]["name"].endswith(f"-r{body['stable_revision']['number']}")


def test_the_endpoint_list_reads_every_revision_slot_in_one_query(
    world, client_for, django_assert_num_queries
):
    _endpoints(world, 6)  # stable, canary and retiring revisions, active rollouts
    client = client_for("platform_admin")
    client.get("/api/v1/tenants/acme/")  # the key's first use records last_used_at once
    # The key, the memberships, the tenant, the endpoints with their scaling policies, their
    # revisions in service with their model versions, the active rollouts (no COUNT: the page
    # holds every row).
    with django_assert_num_queries(6):
        rows = client.get("/api/v1/tenants/acme/endpoints/").json()["results"]
    assert {bool(row["canary_revision"]) for row in rows} == {True, False}
    assert {bool(row["retiring_revision"]) for row in rows} == {True, False}


def test_an_endpoint_read_shows_what_its_row_in_the_list_shows(world, client_for):
    # endpoint_for and the list read through different compiled queries (by name, by page).
    _endpoints(world, 3)  # a canary with an active rollout, a retiring revision, neither
    client = client_for("platform_admin")
    rows = client.get("/api/v1/tenants/acme/endpoints/", {"page_size": 500}).json()["results"]
    assert any(row["active_rollout"] for row in rows)
    for row in rows:
        assert client.get(f"/api/v1/tenants/acme/endpoints/{row['name']}/").json() == row
