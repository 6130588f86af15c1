"""The fake API server answers like the real one where the backend and the tests rely on it."""

from __future__ import annotations

import json

import pytest
import urllib3
from kubernetes.dynamic import DynamicClient

from control_plane.cluster.errors import Forbidden
from control_plane.cluster.kubernetes_backend import KubernetesBackend
from control_plane.cluster.types import ObjectRef
from tests.cluster import factories
from tests.fakes.kube_resources import RESOURCES

APPLY = "application/apply-patch+yaml"


@pytest.fixture
def http(kube_apiserver):
    pool = urllib3.PoolManager()

    def request(method: str, path: str, body: dict | None = None, content_type=APPLY):
        response = pool.request(
            method,
            kube_apiserver.url + path,
            body=json.dumps(body) if body is not None else None,
            headers={"Content-Type": content_type},
        )
        return response.status, json.loads(response.data)

    return request


def _apply(http, path: str, obj: dict, query: str = "fieldManager=test&force=true"):
    return http("PATCH", f"{path}?{query}", obj)


def test_discovery_serves_every_kind_to_the_dynamic_client(kube_apiserver, tmp_path):
    client = DynamicClient(kube_apiserver.api_client(), cache_file=str(tmp_path / "discovery.json"))

    for resource in RESOURCES:
        for version in resource.versions:
            found = client.resources.get(
                api_version=resource.api_version(version), kind=resource.kind
            )
            assert (found.name, found.namespaced) == (resource.plural, resource.namespaced)


def test_apply_creates_with_201_then_answers_200(http):
    status, created = _apply(http, "/api/v1/namespaces/tenant-acme", factories.namespace())
    assert status == 201
    assert created["metadata"]["uid"]
    assert created["metadata"]["creationTimestamp"]
    assert created["metadata"]["labels"]["kubernetes.io/metadata.name"] == "tenant-acme"

    status, _ = _apply(http, "/api/v1/namespaces/tenant-acme", factories.namespace())
    assert status == 200


def test_resource_version_moves_only_on_a_real_change(http):
    path = "/api/v1/namespaces/tenant-acme"
    _, first = _apply(http, path, factories.namespace())
    _, same = _apply(http, path, factories.namespace())
    changed_namespace = factories.namespace()
    changed_namespace["metadata"]["labels"]["tier"] = "gold"
    _, changed = _apply(http, path, changed_namespace)

    assert same["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    assert int(changed["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])
    assert changed["metadata"]["uid"] == first["metadata"]["uid"]


def test_create_of_an_existing_object_is_already_exists(http):
    http("POST", "/api/v1/namespaces", factories.namespace(), "application/json")

    status, body = http("POST", "/api/v1/namespaces", factories.namespace(), "application/json")

    assert status == 409
    assert body["kind"] == "Status"
    assert body["reason"] == "AlreadyExists"
    assert body["message"] == 'namespaces "tenant-acme" already exists'


def test_an_absent_object_is_a_404_status(http):
    status, body = http("GET", "/apis/apps/v1/namespaces/tenant-acme/deployments/chat-r1")

    assert status == 404
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'deployments.apps "chat-r1" not found',
        "reason": "NotFound",
        "details": {"name": "chat-r1", "kind": "deployments", "group": "apps"},
        "code": 404,
    }


def test_apply_without_field_manager_is_invalid(http):
    status, body = _apply(http, "/api/v1/namespaces/tenant-acme", factories.namespace(), "")

    assert status == 422
    assert "fieldManager: Required value" in body["message"]


def test_a_pod_over_quota_is_refused_with_the_admission_message(http):
    _apply(http, "/api/v1/namespaces/tenant-acme", factories.namespace())
    _apply(http, "/api/v1/namespaces/tenant-acme/resourcequotas/gpu", factories.resource_quota())
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "x", "namespace": "tenant-acme"},
        "spec": factories.deployment(gpus=2)["spec"]["template"]["spec"],
    }

    status, body = http("POST", "/api/v1/namespaces/tenant-acme/pods", pod, "application/json")

    assert status == 403
    assert body["message"] == (
        'pods "x" is forbidden: exceeded quota: gpu, requested: requests.nvidia.com/gpu=2, '
        "used: requests.nvidia.com/gpu=0, limited: requests.nvidia.com/gpu=1"
    )


def test_applying_replicas_owned_by_the_autoscaler_conflicts_without_force(http, kube_apiserver):
    _apply(http, "/api/v1/namespaces/tenant-acme", factories.namespace())
    path = "/apis/apps/v1/namespaces/tenant-acme/deployments/chat-r1"
    _apply(http, path, factories.deployment())
    kube_apiserver.set_replicas("tenant-acme", "chat-r1", 2)

    status, body = _apply(http, path, factories.deployment(replicas=5), "fieldManager=test")

    assert status == 409
    assert body["message"] == (
        'Apply failed with 1 conflict: conflict with "keda-operator" using apps/v1: .spec.replicas'
    )
    assert body["details"]["causes"][0]["field"] == ".spec.replicas"


def test_deleting_a_namespace_deletes_its_objects(http):
    _apply(http, "/api/v1/namespaces/tenant-acme", factories.namespace())
    _apply(
        http,
        "/apis/keda.sh/v1alpha1/namespaces/tenant-acme/scaledobjects/chat",
        factories.scaled_object(),
    )

    status, _ = http("DELETE", "/api/v1/namespaces/tenant-acme")
    _, listed = http("GET", "/apis/keda.sh/v1alpha1/scaledobjects")

    assert status == 200
    assert listed["items"] == []


def test_fail_next_skips_discovery_and_is_logged(http, kube_apiserver):
    kube_apiserver.fail_next(1, status=500)

    assert http("GET", "/apis")[0] == 200
    assert http("GET", "/api/v1/namespaces")[0] == 500
    assert http("GET", "/api/v1/namespaces")[0] == 200
    assert [(r.verb, r.status) for r in kube_apiserver.requests()] == [
        ("discovery", 200),
        ("list", 500),
        ("list", 200),
    ]


def test_a_namespace_with_finalized_contents_stays_terminating_and_refuses_new_objects(
    kube_apiserver,
):
    backend = KubernetesBackend(kube_apiserver.api_client(), sleep=lambda s: None)
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "doomed"}}
    held = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "held", "namespace": "doomed", "finalizers": ["example.com/x"]},
    }
    backend.apply([namespace, held])
    assert backend.delete(ObjectRef("v1", "Namespace", None, "doomed"))

    live = backend.get(ObjectRef("v1", "Namespace", None, "doomed"))
    assert live["status"]["phase"] == "Terminating"
    assert live["metadata"]["deletionTimestamp"]
    fresh = {**held, "metadata": {"name": "new", "namespace": "doomed"}}
    with pytest.raises(Forbidden, match="because it is being terminated"):
        backend.apply([fresh])

    kube_apiserver.remove_finalizers("v1", "ServiceAccount", "doomed", "held")
    assert backend.get(ObjectRef("v1", "Namespace", None, "doomed")) is None
