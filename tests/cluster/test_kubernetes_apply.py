"""Server-side apply through the kubernetes backend, against the fake API server."""

from __future__ import annotations

from control_plane.cluster.labels import APPLIED_HASH_ANNOTATION
from control_plane.cluster.types import ObjectRef
from tests.cluster import factories


def test_it_creates_every_object(backend, kube_apiserver):
    results = backend.apply(factories.tenant_objects())

    assert [(r.ref.kind, r.action) for r in results] == [
        ("Namespace", "created"),
        ("ResourceQuota", "created"),
        ("Deployment", "created"),
        ("ScaledObject", "created"),
        ("HTTPRoute", "created"),
    ]
    route = backend.get(ObjectRef.of(factories.http_route()))
    assert route["spec"]["rules"][0]["backendRefs"][0]["name"] == "chat-r1"
    assert route["metadata"]["uid"]


def test_it_applies_with_one_field_manager_and_force(backend, kube_apiserver):
    backend.apply([factories.namespace()])

    (patch,) = kube_apiserver.requests("apply")
    assert patch.method == "PATCH"
    assert "fieldManager=llm-control-plane" in patch.path
    assert "force=true" in patch.path


def test_a_second_apply_sends_no_write(backend, kube_apiserver):
    backend.apply(factories.tenant_objects())
    kube_apiserver.reset_log()

    results = backend.apply(factories.tenant_objects())

    assert {r.action for r in results} == {"unchanged"}
    assert kube_apiserver.write_count() == 0


def test_it_reads_each_kind_once_per_namespace(backend, kube_apiserver):
    objects = [factories.namespace(), factories.deployment("a-r1"), factories.deployment("b-r1")]
    backend.apply(objects)
    kube_apiserver.reset_log()

    backend.apply(objects)

    lists = [r.path for r in kube_apiserver.requests("list")]
    assert lists == ["/api/v1/namespaces", "/apis/apps/v1/namespaces/tenant-acme/deployments"]


def test_a_changed_object_is_updated_and_the_others_left_alone(backend, kube_apiserver):
    backend.apply(factories.tenant_objects())
    kube_apiserver.reset_log()
    objects = factories.tenant_objects()
    objects[2] = factories.deployment(image="vllm/vllm-openai:v0.12.0")

    results = backend.apply(objects)

    assert [(r.ref.kind, r.action) for r in results if r.action != "unchanged"] == [
        ("Deployment", "updated")
    ]
    assert kube_apiserver.write_count() == 1
    live = backend.get(ObjectRef.of(objects[2]))
    assert live["spec"]["template"]["spec"]["containers"][0]["image"].endswith("v0.12.0")
    assert live["metadata"]["generation"] == 2


def test_namespaces_are_applied_first_whatever_the_order_given(backend, kube_apiserver):
    objects = [factories.deployment(), factories.namespace()]

    results = backend.apply(objects)

    assert [r.ref.kind for r in results] == ["Namespace", "Deployment"]


def test_the_applied_hash_annotation_is_on_the_live_object(backend):
    backend.apply([factories.namespace()])

    live = backend.get(ObjectRef.of(factories.namespace()))

    assert len(live["metadata"]["annotations"][APPLIED_HASH_ANNOTATION]) == 64


def test_replicas_set_by_the_autoscaler_survive_an_apply_without_them(backend, kube_apiserver):
    backend.apply([factories.namespace(), factories.resource_quota(gpus=4), factories.deployment()])
    kube_apiserver.set_replicas("tenant-acme", "chat-r1", 3)

    backend.apply([factories.deployment(image="vllm/vllm-openai:v0.12.0")])

    live = backend.get(ObjectRef.of(factories.deployment()))
    assert live["spec"]["replicas"] == 3
    assert live["status"]["readyReplicas"] == 3


def test_a_deployment_without_replicas_runs_one_ready_pod(backend):
    backend.apply([factories.namespace(), factories.resource_quota(gpus=2), factories.deployment()])

    status = backend.get(ObjectRef.of(factories.deployment()))["status"]

    assert status["readyReplicas"] == 1
    assert status["observedGeneration"] == 1
    available = next(c for c in status["conditions"] if c["type"] == "Available")
    assert available["status"] == "True"


def test_a_deployment_over_quota_reports_the_quota_message(backend):
    backend.apply(
        [factories.namespace(), factories.resource_quota(gpus=1), factories.deployment(gpus=2)]
    )

    status = backend.get(ObjectRef.of(factories.deployment()))["status"]

    failure = next(c for c in status["conditions"] if c["type"] == "ReplicaFailure")
    assert failure["reason"] == "FailedCreate"
    assert (
        "is forbidden: exceeded quota: gpu, requested: requests.nvidia.com/gpu=2, "
        in (failure["message"])
    )
    assert failure["message"].endswith(
        "used: requests.nvidia.com/gpu=0, limited: requests.nvidia.com/gpu=1"
    )
    assert "readyReplicas" not in status


def test_the_quota_status_counts_running_pods(backend, kube_apiserver):
    backend.apply(
        [factories.namespace(), factories.resource_quota(gpus=4), factories.deployment(gpus=2)]
    )
    kube_apiserver.set_replicas("tenant-acme", "chat-r1", 3)

    quota = backend.get(ObjectRef.of(factories.resource_quota()))
    deployment = backend.get(ObjectRef.of(factories.deployment()))

    assert quota["status"]["used"] == {"requests.nvidia.com/gpu": "4", "pods": "2"}
    assert deployment["status"]["readyReplicas"] == 2
    assert deployment["status"]["unavailableReplicas"] == 1
