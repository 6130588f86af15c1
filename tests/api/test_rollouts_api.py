"""The rollouts API: starting one, the rules it refuses with, the operator actions, who may."""

from __future__ import annotations

import pytest

from control_plane.audit.models import AuditEvent
from endpoints import services as endpoint_services
from endpoints.models import Endpoint, Rollout
from tenants.models import Quota
from tests.factories import system
from tests.world import gpu_model_spec

pytestmark = pytest.mark.django_db

ROLLOUTS = "/api/v1/tenants/acme/endpoints/chat/rollouts/"


@pytest.fixture
def new_version(world):
    return endpoint_services.model_version_create(
        actor=system(), tenant=None, spec=gpu_model_spec(version="2")
    )


def error(response) -> dict:
    return response.json()["error"]


def start(client, version, **body):
    return client.post(ROLLOUTS, {"model_version": version.pk, **body}, format="json")


def test_a_deployer_starts_a_canary_with_the_default_steps(client_for, world, new_version):
    response = start(client_for("deployer"), new_version)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["state"] == "pending"
    assert body["strategy"] == "canary"
    assert body["spec"]["steps"] == [10, 25, 50, 100]
    assert body["from_revision"] == "chat-r1"
    assert body["to_revision"] == "chat-r2"
    endpoint = Endpoint.objects.get(pk=world.own_endpoint.pk)
    assert endpoint.canary_revision.kubernetes_name == "chat-r2"
    assert endpoint.canary_weight == 0
    assert endpoint.generation == 2
    event = AuditEvent.objects.get(action="rollout.start")
    assert event.changes["to"]["after"] == "chat-r2"

    shown = client_for("viewer").get("/api/v1/tenants/acme/endpoints/chat/").json()
    assert shown["canary_revision"]["name"] == "chat-r2"
    assert shown["active_rollout"] == {
        "id": body["id"],
        "state": "pending",
        "step": 0,
        "weight": 0,
        "to_revision": "chat-r2",
    }


def test_a_second_active_rollout_is_a_conflict(client_for, new_version):
    assert start(client_for("deployer"), new_version).status_code == 201
    third = endpoint_services.model_version_create(
        actor=system(), tenant=None, spec=gpu_model_spec(version="3")
    )
    response = start(client_for("deployer"), third)
    assert response.status_code == 409
    assert "pending" in error(response)["message"]


def test_a_rollout_that_cannot_fit_the_quota_is_refused_naming_the_numbers(
    client_for, world, new_version
):
    Quota.objects.filter(tenant=world.own).update(gpus=3)
    response = start(client_for("deployer"), new_version)
    assert response.status_code == 409
    assert error(response)["code"] == "quota_exceeded"
    assert "gpu" in error(response)["message"].lower()
    assert not Rollout.objects.exists()
    assert Endpoint.objects.get(pk=world.own_endpoint.pk).canary_revision is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"steps": [10, 5, 100]}, "steps"),
        ({"steps": [10, 50]}, "steps"),
        ({"steps": [100]}, "steps"),
        ({"steps": [0, 100]}, "steps"),
        ({"analysis_interval_s": 0}, "analysis_interval_s"),
        ({"strategy": "direct", "steps": [50, 100]}, "steps"),
        ({"strategy": "blue-green"}, "strategy"),
        ({"gates": {"alpha": 0.9}}, "gates.alpha"),
        ({"gates": {"tolerated_odds_ratio": 0.5}}, "gates.tolerated_odds_ratio"),
        ({"gates": {"min_requests": 0}}, "gates.min_requests"),
        ({"engine_args": {"max_num_seqs": 0}}, "engine_args.max_num_seqs"),
        ({"engine_args": {"not_an_arg": 1}}, "engine_args"),
        ({"gates": {"p99": 1}}, "gates.p99"),
        ({"bake": 1}, "bake"),
    ],
)
def test_bad_rollout_settings_are_a_400_naming_the_field(client_for, new_version, body, field):
    response = start(client_for("deployer"), new_version, **body)
    assert response.status_code == 400, response.json()
    assert field in error(response)["fields"], error(response)
    assert not Rollout.objects.exists()


def test_rolling_out_what_already_runs_is_a_400(client_for, world):
    response = start(client_for("deployer"), world.platform_model)
    assert response.status_code == 400
    assert "model_version" in error(response)["fields"]


def test_another_tenants_private_model_is_not_in_the_catalog(client_for, world):
    response = start(client_for("deployer"), world.foreign_private_model)
    assert response.status_code == 400
    assert "model_version" in error(response)["fields"]


@pytest.mark.parametrize(("role", "expected"), [("viewer", 403), ("deployer", 201)])
def test_deployers_start_and_viewers_only_read(client_for, new_version, role, expected):
    assert start(client_for(role), new_version).status_code == expected
    assert client_for("viewer").get(ROLLOUTS).status_code == 200


def test_other_tenants_rollouts_are_not_found(client_for, world, new_version):
    assert start(client_for("deployer"), new_version).status_code == 201
    rollout = Rollout.objects.get()
    foreign = "/api/v1/tenants/globex/endpoints/chat/rollouts/"
    assert client_for("deployer").get(foreign).status_code == 404
    detail = f"{ROLLOUTS}{rollout.pk}/"
    assert client_for("deployer").get(detail).status_code == 200
    assert (
        client_for("deployer").get(f"{foreign}{rollout.pk}/").status_code == 404
    )  # the globex endpoint has no such rollout, and acme's deployer sees no globex


def test_pause_resume_and_abort_move_the_state_and_are_audited(client_for, world, new_version):
    rollout_id = start(client_for("deployer"), new_version).json()["id"]
    deployer = client_for("deployer")
    paused = deployer.post(f"{ROLLOUTS}{rollout_id}/pause/", {"reason": "lunch"}, format="json")
    assert paused.status_code == 200
    assert paused.json()["state"] == "paused"
    assert deployer.post(f"{ROLLOUTS}{rollout_id}/pause/").status_code == 409
    resumed = deployer.post(f"{ROLLOUTS}{rollout_id}/resume/")
    assert resumed.json()["state"] == "pending"
    aborted = deployer.post(f"{ROLLOUTS}{rollout_id}/abort/", {"reason": "wrong model"})
    assert aborted.json()["state"] == "aborted"
    endpoint = Endpoint.objects.get(pk=world.own_endpoint.pk)
    assert endpoint.canary_revision is None
    assert endpoint.retiring_revision.kubernetes_name == "chat-r2"
    assert deployer.post(f"{ROLLOUTS}{rollout_id}/resume/").status_code == 409
    actions = list(
        AuditEvent.objects.filter(target_type="rollout")
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == ["rollout.start", "rollout.pause", "rollout.resume", "rollout.abort"]
    assert "wrong model" in AuditEvent.objects.get(action="rollout.abort").reason


def test_promote_needs_a_reason_and_a_ready_canary(client_for, world, new_version):
    rollout_id = start(client_for("deployer"), new_version).json()["id"]
    deployer = client_for("deployer")
    no_reason = deployer.post(f"{ROLLOUTS}{rollout_id}/promote/", {}, format="json")
    assert no_reason.status_code == 400
    assert "reason" in error(no_reason)["fields"]
    not_ready = deployer.post(f"{ROLLOUTS}{rollout_id}/promote/", {"reason": "hotfix"})
    assert not_ready.status_code == 409
    assert Rollout.objects.get().state == "pending"


def test_a_new_rollout_waits_until_the_previous_revision_is_retired(client_for, world, new_version):
    rollout_id = start(client_for("deployer"), new_version).json()["id"]
    client_for("deployer").post(f"{ROLLOUTS}{rollout_id}/abort/")
    response = start(client_for("deployer"), new_version)
    assert response.status_code == 409
    assert "draining" in error(response)["message"]


def test_a_direct_rollout_needs_no_analysis_settings(client_for, new_version):
    response = start(client_for("deployer"), new_version, strategy="direct")
    assert response.status_code == 201
    assert response.json()["spec"]["steps"] == [100]
