"""The read routes build endpoints as plain dicts (endpoints/api/representations.py); the
OpenAPI schema describes them with EndpointSerializer. Both must give the same body."""

from __future__ import annotations

import json

import pytest
from rest_framework.renderers import JSONRenderer

from endpoints import selectors
from endpoints.api.representations import endpoint_representation
from endpoints.api.serializers import EndpointSerializer
from endpoints.models import Endpoint, Revision, Rollout
from scaling.models import ScalingPolicy
from tests.world import make_endpoint

pytestmark = pytest.mark.django_db


def _as_json(data) -> object:
    return json.loads(JSONRenderer().render(data))


def _varied_endpoints(world) -> None:
    """Endpoints with every slot, an active rollout, conditions, schedule floors and the
    nullable targets set, next to the world's plain one."""
    busy = make_endpoint(
        world.own,
        "busy",
        world.platform_model,
        max_replicas=1,
        ttft_p95_target_ms=800,
        target_in_flight_per_replica=4.5,
        schedule_floors=[
            {"days": ["mon", "fri"], "start": "08:00", "end": "18:00", "timezone": "Europe/Paris"}
        ],
    )
    canary = Revision.objects.create(
        endpoint=busy, model_version=world.platform_model, number=2, engine_args={"dtype": "bf16"}
    )
    retiring = Revision.objects.create(endpoint=busy, model_version=world.platform_model, number=3)
    Endpoint.objects.filter(pk=busy.pk).update(
        canary_revision=canary,
        retiring_revision=retiring,
        canary_weight=25,
        conditions=[
            {
                "type": "Ready",
                "status": "False",
                "reason": "Progressing",
                "message": "",
                "last_transition_time": "2026-01-02T03:04:05+00:00",
            }
        ],
    )
    Rollout.objects.create(
        endpoint=busy,
        from_revision=busy.stable_revision,
        to_revision=canary,
        strategy=Rollout.Strategy.CANARY,
        state=Rollout.State.PROGRESSING,
        weight=25,
    )
    # A floor stored before min_replicas had a default in the stored form.
    floors = [{"days": ["sun"], "start": "00:00", "end": "06:00", "timezone": "UTC"}]
    quiet = make_endpoint(world.own, "quiet", world.platform_model, min_replicas=0, max_replicas=1)
    ScalingPolicy.objects.filter(endpoint=quiet).update(schedule_floors=floors)


def test_the_representation_matches_the_serializer_for_every_kind_of_endpoint(world):
    _varied_endpoints(world)
    endpoints = list(selectors.endpoints_of(tenant=world.own))
    assert len(endpoints) >= 3
    for endpoint in endpoints:
        plain = endpoint_representation(endpoint)
        serialized = EndpointSerializer(endpoint).data
        assert _as_json(plain) == _as_json(serialized)
        assert list(plain) == list(serialized)  # the same key order in the body


def test_the_list_and_detail_routes_answer_what_the_serializer_describes(world, client_for):
    _varied_endpoints(world)
    client = client_for("viewer")
    listed = client.get("/api/v1/tenants/acme/endpoints/").json()["results"]
    expected = [EndpointSerializer(e).data for e in selectors.endpoints_of(tenant=world.own)]
    assert listed == _as_json(expected)
    busy = client.get("/api/v1/tenants/acme/endpoints/busy/").json()
    assert busy["active_rollout"]["weight"] == 25
    assert busy["scaling"]["schedule_floors"][0]["days"] == ["mon", "fri"]
    assert busy == _as_json(EndpointSerializer(Endpoint.objects.get(name="busy")).data)
