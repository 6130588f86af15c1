"""Every route × every role × own and foreign tenant, asserting the status code.

Own-tenant expectations are spelled out per route. On a foreign tenant, platform admins and
auditors behave as on their own (they are platform-wide), while tenant roles get 404: another
tenant's objects are invisible, never "forbidden".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from control_plane.audit.models import AuditEvent
from endpoints.models import Endpoint
from endpoints.rollouts.services import rollout_pause, rollout_start
from tests.factories import system
from tests.world import ROLES, TENANT_ROLES, World

pytestmark = pytest.mark.django_db

NEW_MODEL = {
    "name": "new-model",
    "version": "1",
    "source": "huggingface",
    "hf_repo": "org/new-model",
    "image": "vllm/vllm-openai:v0.11.0",
    "gpus_per_replica": 1,
}


@dataclass(frozen=True)
class Route:
    name: str
    method: str
    path: Callable[[World, Any], str]
    expected: dict[str, int]
    body: Callable[[World, Any], dict] | None = None
    tenant_scoped: bool = True


def everyone(status: int) -> dict[str, int]:
    return dict.fromkeys(ROLES, status)


def only(status: int, allowed: tuple[str, ...], denied: int = 403) -> dict[str, int]:
    return {role: status if role in allowed else denied for role in ROLES}


ADMINS = ("platform_admin", "tenant_admin")
DEPLOYERS = ("platform_admin", "tenant_admin", "deployer")


def private_model(world: World, tenant) -> Any:
    return world.own_private_model if tenant == world.own else world.foreign_private_model


def rollout_id(world: World, tenant, *, paused: bool = False) -> int:
    """A rollout of the tenant's `chat` endpoint to its private model, started by the system."""
    endpoint = Endpoint.objects.select_related("tenant", "scaling_policy").get(
        tenant=tenant, name="chat"
    )
    rollout = rollout_start(
        actor=system(),
        endpoint=endpoint,
        model_version=private_model(world, tenant),
        settings={},
    )
    if paused:
        rollout = rollout_pause(actor=system(), rollout=rollout)
    return rollout.pk


def rollouts(tenant) -> str:
    return f"/api/v1/tenants/{tenant.slug}/endpoints/chat/rollouts/"


def tenant_event_id(world: World, tenant) -> int:
    return AuditEvent.objects.filter(tenant_slug=tenant.slug).order_by("id").first().id


ROUTES = [
    Route(
        "list tenants", "get", lambda w, t: "/api/v1/tenants/", everyone(200), tenant_scoped=False
    ),
    Route(
        "create tenant",
        "post",
        lambda w, t: "/api/v1/tenants/",
        only(201, ("platform_admin",)),
        body=lambda w, t: {"slug": "initech", "display_name": "Initech"},
        tenant_scoped=False,
    ),
    Route("read tenant", "get", lambda w, t: f"/api/v1/tenants/{t.slug}/", everyone(200)),
    Route(
        "rename tenant",
        "patch",
        lambda w, t: f"/api/v1/tenants/{t.slug}/",
        only(200, ADMINS),
        body=lambda w, t: {"display_name": "Renamed"},
    ),
    Route(
        "delete tenant",
        "delete",
        lambda w, t: f"/api/v1/tenants/{t.slug}/",
        only(202, ("platform_admin",)),
    ),
    Route("read quota", "get", lambda w, t: f"/api/v1/tenants/{t.slug}/quota/", everyone(200)),
    Route(
        "change quota",
        "put",
        lambda w, t: f"/api/v1/tenants/{t.slug}/quota/",
        only(200, ("platform_admin",)),
        body=lambda w, t: {"gpus": 10, "max_endpoints": 6, "cpu": "128", "memory": "1Ti"},
    ),
    Route("list members", "get", lambda w, t: f"/api/v1/tenants/{t.slug}/members/", everyone(200)),
    Route(
        "add member",
        "post",
        lambda w, t: f"/api/v1/tenants/{t.slug}/members/",
        only(201, ADMINS),
        body=lambda w, t: {"username": "newbie", "role": "viewer"},
    ),
    Route(
        "read member",
        "get",
        lambda w, t: f"/api/v1/tenants/{t.slug}/members/{t.slug}-viewer/",
        everyone(200),
    ),
    Route(
        "change member",
        "patch",
        lambda w, t: f"/api/v1/tenants/{t.slug}/members/{t.slug}-viewer/",
        only(200, ADMINS),
        body=lambda w, t: {"role": "deployer"},
    ),
    Route(
        "remove member",
        "delete",
        lambda w, t: f"/api/v1/tenants/{t.slug}/members/{t.slug}-viewer/",
        only(204, ADMINS),
    ),
    Route(
        "list endpoints", "get", lambda w, t: f"/api/v1/tenants/{t.slug}/endpoints/", everyone(200)
    ),
    Route(
        "create endpoint",
        "post",
        lambda w, t: f"/api/v1/tenants/{t.slug}/endpoints/",
        only(201, DEPLOYERS),
        body=lambda w, t: {
            "name": "new-ep",
            "model_version": w.platform_model.pk,
            "scaling": {"max_replicas": 1},
        },
    ),
    Route(
        "read endpoint",
        "get",
        lambda w, t: f"/api/v1/tenants/{t.slug}/endpoints/chat/",
        everyone(200),
    ),
    Route(
        "scale endpoint",
        "patch",
        lambda w, t: f"/api/v1/tenants/{t.slug}/endpoints/chat/",
        only(200, DEPLOYERS),
        body=lambda w, t: {"scaling": {"max_replicas": 3}},
    ),
    Route(
        # Without Prometheus (the test settings) access is granted and the answer is 503.
        "compare endpoint scaling",
        "get",
        lambda w, t: f"/api/v1/tenants/{t.slug}/endpoints/chat/scaling-comparison/",
        everyone(503),
    ),
    Route(
        # Read-only like the comparison: every role reads it; without Prometheus, a 503.
        "recommend endpoint scaling",
        "get",
        lambda w, t: f"/api/v1/tenants/{t.slug}/endpoints/chat/scaling-recommendation/",
        everyone(503),
    ),
    Route(
        "delete endpoint",
        "delete",
        lambda w, t: f"/api/v1/tenants/{t.slug}/endpoints/chat/",
        only(202, DEPLOYERS),
    ),
    Route("list rollouts", "get", lambda w, t: rollouts(t), everyone(200)),
    Route(
        "start rollout",
        "post",
        lambda w, t: rollouts(t),
        only(201, DEPLOYERS),
        body=lambda w, t: {"model_version": private_model(w, t).pk},
    ),
    Route("read rollout", "get", lambda w, t: f"{rollouts(t)}{rollout_id(w, t)}/", everyone(200)),
    Route(
        "pause rollout",
        "post",
        lambda w, t: f"{rollouts(t)}{rollout_id(w, t)}/pause/",
        only(200, DEPLOYERS),
    ),
    Route(
        "resume rollout",
        "post",
        lambda w, t: f"{rollouts(t)}{rollout_id(w, t, paused=True)}/resume/",
        only(200, DEPLOYERS),
    ),
    Route(
        # Allowed for deployers, then refused: the canary has not become ready.
        "promote rollout",
        "post",
        lambda w, t: f"{rollouts(t)}{rollout_id(w, t)}/promote/",
        only(409, DEPLOYERS),
        body=lambda w, t: {"reason": "hotfix"},
    ),
    Route(
        "abort rollout",
        "post",
        lambda w, t: f"{rollouts(t)}{rollout_id(w, t)}/abort/",
        only(200, DEPLOYERS),
    ),
    Route(
        "list catalog",
        "get",
        lambda w, t: "/api/v1/model-versions/",
        everyone(200),
        tenant_scoped=False,
    ),
    Route(
        "add platform model",
        "post",
        lambda w, t: "/api/v1/model-versions/",
        only(201, ("platform_admin",)),
        body=lambda w, t: NEW_MODEL,
        tenant_scoped=False,
    ),
    Route(
        "add private model",
        "post",
        lambda w, t: "/api/v1/model-versions/",
        only(201, DEPLOYERS),
        body=lambda w, t: NEW_MODEL | {"tenant": t.slug},
    ),
    Route(
        "read private model",
        "get",
        lambda w, t: f"/api/v1/model-versions/{private_model(w, t).pk}/",
        everyone(200),
    ),
    Route(
        "edit private model",
        "patch",
        lambda w, t: f"/api/v1/model-versions/{private_model(w, t).pk}/",
        only(200, DEPLOYERS),
        body=lambda w, t: {"expected_load_seconds": 100},
    ),
    Route(
        "deprecate private model",
        "post",
        lambda w, t: f"/api/v1/model-versions/{private_model(w, t).pk}/deprecate/",
        only(200, DEPLOYERS),
    ),
    Route(
        "delete private model",
        "delete",
        lambda w, t: f"/api/v1/model-versions/{private_model(w, t).pk}/",
        only(204, DEPLOYERS),
    ),
    Route("list users", "get", lambda w, t: "/api/v1/users/", everyone(200), tenant_scoped=False),
    Route(
        "create user",
        "post",
        lambda w, t: "/api/v1/users/",
        only(201, ("platform_admin",)),
        body=lambda w, t: {"username": "carol", "password": "a long enough passphrase"},
        tenant_scoped=False,
    ),
    Route(
        "read user",
        "get",
        lambda w, t: "/api/v1/users/newbie/",
        only(200, ("platform_admin", "auditor"), denied=404),
        tenant_scoped=False,
    ),
    Route(
        "deactivate user",
        "patch",
        lambda w, t: "/api/v1/users/newbie/",
        {**only(200, ("platform_admin",), denied=404), "auditor": 403},
        body=lambda w, t: {"is_active": False},
        tenant_scoped=False,
    ),
    Route(
        "list own api keys",
        "get",
        lambda w, t: "/api/v1/api-keys/",
        everyone(200),
        tenant_scoped=False,
    ),
    Route(
        "create api key",
        "post",
        lambda w, t: "/api/v1/api-keys/",
        everyone(201),
        body=lambda w, t: {"name": "ci"},
        tenant_scoped=False,
    ),
    Route(
        "list audit events",
        "get",
        lambda w, t: "/api/v1/audit-events/",
        everyone(200),
        tenant_scoped=False,
    ),
    Route(
        "read tenant audit event",
        "get",
        lambda w, t: f"/api/v1/audit-events/{tenant_event_id(w, t)}/",
        only(200, ("platform_admin", "auditor", "tenant_admin"), denied=404),
    ),
    Route(
        "export tenant audit events",
        "get",
        lambda w, t: f"/api/v1/audit-events/export/?format=csv&tenant={t.slug}",
        only(200, ("platform_admin", "auditor", "tenant_admin"), denied=404),
    ),
]


def expected_status(route: Route, role: str, side: str) -> int:
    own = route.expected[role]
    if side == "foreign" and route.tenant_scoped and role in TENANT_ROLES:
        return 404
    return own


CASES = [
    pytest.param(route, role, side, id=f"{route.name}-{role}-{side}")
    for route in ROUTES
    for role in ROLES
    for side in (("own", "foreign") if route.tenant_scoped else ("own",))
]


@pytest.mark.parametrize(("route", "role", "side"), CASES)
def test_route_answers_each_role_with_the_expected_status(world, client_for, route, role, side):
    tenant = world.own if side == "own" else world.foreign
    body = route.body(world, tenant) if route.body else None
    client = client_for(role)
    response = getattr(client, route.method)(route.path(world, tenant), body, format="json")
    assert response.status_code == expected_status(route, role, side), response.content


@pytest.mark.parametrize("route", ROUTES, ids=[route.name for route in ROUTES])
def test_anonymous_callers_get_401(world, client_for, route):
    body = route.body(world, world.own) if route.body else None
    response = getattr(client_for(None), route.method)(
        route.path(world, world.own), body, format="json"
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_another_users_api_key_is_invisible(world, client_for):
    viewer_keys = client_for("viewer").get("/api/v1/api-keys/").json()["results"]
    prefix = viewer_keys[0]["prefix"]
    for role in ("platform_admin", "deployer"):
        response = client_for(role).delete(f"/api/v1/api-keys/{prefix}/")
        assert response.status_code == 404
