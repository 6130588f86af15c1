"""What a real API server does that the reconcilers must live with: defaulted replicas, hand
edits, a controller that fills in status later, and suspended tenants that stay put."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from control_plane.cluster import ObjectRef
from control_plane.cluster.labels import APPLIED_HASH_ANNOTATION
from endpoints import services as endpoint_services
from endpoints.models import Endpoint
from endpoints.reconciler import _readiness, reconcile_endpoint
from scaling.services import policy_fields
from tenants import services as tenant_services
from tenants.reconciler import reconcile_tenant
from tests.factories import system

pytestmark = pytest.mark.django_db

DEPLOYMENT = ObjectRef("apps/v1", "Deployment", "tenant-acme", "chat-r1")


def _scale_to_zero(world) -> None:
    policy = policy_fields(world.own_endpoint.scaling_policy)
    endpoint_services.endpoint_update_scaling(
        actor=system(), endpoint=world.own_endpoint, scaling=policy | {"min_replicas": 0}
    )


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


def test_scaled_to_zero_is_reported_only_once_the_deployment_asks_for_none(world):
    spec = world.own_endpoint.scaling_policy.to_spec()
    spec = type(spec)(**{**spec.__dict__, "min_replicas": 0})
    fresh = {"metadata": {"generation": 1}, "spec": {}, "status": {}}
    assert _readiness(fresh, spec, world.own).reason == "Starting"

    defaulted = {"metadata": {"generation": 1}, "spec": {"replicas": 1}, "status": {}}
    assert _readiness(defaulted, spec, world.own).reason == "Starting"

    not_yet_observed = {"metadata": {"generation": 2}, "spec": {"replicas": 0}, "status": {}}
    assert _readiness(not_yet_observed, spec, world.own).reason == "Starting"

    at_zero = {
        "metadata": {"generation": 2},
        "spec": {"replicas": 0},
        "status": {"observedGeneration": 2},
    }
    readiness = _readiness(at_zero, spec, world.own)
    assert (readiness.ready, readiness.reason) == (True, "ScaledToZero")


def test_a_suspended_tenants_endpoints_are_settled_not_rechecked_every_few_seconds(
    world, kube_backend
):
    reconcile_tenant(world.own.pk, backend=kube_backend)
    tenant_services.tenant_update(actor=system(), tenant=world.own, state="suspended")
    reconcile_endpoint(world.own_endpoint.pk, backend=kube_backend)
    next_check = Endpoint.objects.get(pk=world.own_endpoint.pk).next_check_at
    stale_after = timedelta(seconds=settings.RESYNC_STALE_AFTER_SECONDS)
    assert next_check > timezone.now() + stale_after / 2
