"""What a real API server does that the reconcilers must live with: defaulted replicas, hand
edits, a controller that fills in status later, and suspended tenants that stay put."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from control_plane.cluster import ObjectRef
from control_plane.cluster.labels import APPLIED_HASH_ANNOTATION
from control_plane.conditions import condition
from endpoints import services as endpoint_services
from endpoints.models import Endpoint
from endpoints.reconciler import reconcile_endpoint
from scaling.policy import parse_change
from tenants import services as tenant_services
from tenants.reconciler import reconcile_tenant
from tests.factories import system
from tests.fakes.kube_state import PodProblem

pytestmark = pytest.mark.django_db

DEPLOYMENT = ObjectRef("apps/v1", "Deployment", "tenant-acme", "chat-r1")


def _scale_to_zero(world) -> None:
    endpoint_services.endpoint_update_scaling(
        actor=system(), endpoint=world.own_endpoint, change=parse_change({"min_replicas": 0})
    )


def _condition(endpoint: Endpoint, type_: str) -> dict:
    endpoint.refresh_from_db()
    return condition(endpoint.conditions, type_)


def _container(deployment: dict) -> dict:
    return deployment["spec"]["template"]["spec"]["containers"][0]


def test_a_scale_to_zero_deployment_is_created_at_zero_and_the_autoscaler_owns_it_after(
    world, kube_backend, kube_apiserver
):
    _scale_to_zero(world)
    reconcile_tenant(world.own.pk, backend=kube_backend)
    reconcile_endpoint(world.own_endpoint.pk, backend=kube_backend)
    assert kube_backend.get(DEPLOYMENT)["spec"]["replicas"] == 0

    kube_apiserver.set_replicas("tenant-acme", "chat-r1", 3)
    # A full apply (the fingerprint gone, as after a hand edit) must neither conflict with the
    # autoscaler nor take replicas back.
    kube_apiserver.hand_edit(
        "apps/v1",
        "Deployment",
        "tenant-acme",
        "chat-r1",
        lambda body: body["metadata"]["annotations"].pop(APPLIED_HASH_ANNOTATION),
    )
    assert reconcile_endpoint(world.own_endpoint.pk, backend=kube_backend) == "applied"
    assert kube_backend.get(DEPLOYMENT)["spec"]["replicas"] == 3


def test_an_endpoint_with_a_floor_is_created_with_the_servers_default(world, kube_backend):
    reconcile_tenant(world.own.pk, backend=kube_backend)
    reconcile_endpoint(world.own_endpoint.pk, backend=kube_backend)
    assert kube_backend.get(DEPLOYMENT)["spec"]["replicas"] == 1


def test_a_hand_edit_of_the_model_is_reverted_by_the_next_reconcile(
    world, kube_backend, kube_apiserver
):
    reconcile_tenant(world.own.pk, backend=kube_backend)
    reconcile_endpoint(world.own_endpoint.pk, backend=kube_backend)
    ours = _container(kube_backend.get(DEPLOYMENT))["args"]

    def swap_model(body: dict) -> None:
        args = _container(body)["args"]
        args[args.index("--model") + 1] = "someone-else/other-model"

    kube_apiserver.hand_edit("apps/v1", "Deployment", "tenant-acme", "chat-r1", swap_model)
    assert "someone-else/other-model" in _container(kube_backend.get(DEPLOYMENT))["args"]

    assert reconcile_endpoint(world.own_endpoint.pk, backend=kube_backend) == "applied"
    assert _container(kube_backend.get(DEPLOYMENT))["args"] == ours

    kube_apiserver.reset_log()
    reconcile_endpoint(world.own_endpoint.pk, backend=kube_backend)
    assert kube_apiserver.write_count() == 0


def test_a_suspended_tenants_endpoints_are_settled_not_rechecked_every_few_seconds(
    world, kube_backend
):
    reconcile_tenant(world.own.pk, backend=kube_backend)
    tenant_services.tenant_update(actor=system(), tenant=world.own, state="suspended")
    reconcile_endpoint(world.own_endpoint.pk, backend=kube_backend)
    next_check = Endpoint.objects.get(pk=world.own_endpoint.pk).next_check_at
    stale_after = timedelta(seconds=settings.RESYNC_STALE_AFTER_SECONDS)
    assert next_check > timezone.now() + stale_after / 2


def test_a_deployment_stuck_on_its_image_shows_degraded_then_heals(
    world, kube_backend, kube_apiserver
):
    reconcile_tenant(world.own.pk, backend=kube_backend)
    reconcile_endpoint(world.own_endpoint.pk, backend=kube_backend)
    kube_apiserver.hold_pods(
        "tenant-acme",
        "chat-r1",
        PodProblem("ImagePullBackOff", 'Back-off pulling image "vllm/vllm-openai:v0.11.0"'),
    )
    reconcile_endpoint(world.own_endpoint.pk, backend=kube_backend)
    degraded = _condition(world.own_endpoint, "Degraded")
    assert (degraded["status"], degraded["reason"]) == ("True", "ImagePullBackOff")
    assert "Back-off pulling image" in degraded["message"]

    kube_apiserver.hold_pods(
        "tenant-acme",
        "chat-r1",
        PodProblem("Unschedulable", "0/3 nodes are available", deadline_exceeded=True),
    )
    reconcile_endpoint(world.own_endpoint.pk, backend=kube_backend)
    degraded = _condition(world.own_endpoint, "Degraded")
    assert degraded["reason"] == "ProgressDeadlineExceeded"
    assert "0/3 nodes are available" in degraded["message"]

    kube_apiserver.hold_pods("tenant-acme", "chat-r1", None)
    reconcile_endpoint(world.own_endpoint.pk, backend=kube_backend)
    assert _condition(world.own_endpoint, "Degraded")["status"] == "False"
    assert _condition(world.own_endpoint, "Ready")["reason"] == "Available"
