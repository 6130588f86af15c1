"""Error mapping and retries of the kubernetes backend."""

from __future__ import annotations

import socket
import time

import pytest
from kubernetes.client import ApiClient, Configuration

from control_plane.cluster.errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    QuotaExceeded,
    ServerError,
    Throttled,
    Unreachable,
)
from control_plane.cluster.kubernetes_backend import KubernetesBackend
from control_plane.cluster.types import ObjectRef
from tests.cluster import factories

RBAC_MESSAGE = (
    'deployments.apps "chat-r1" is forbidden: User "system:serviceaccount:cp:worker" cannot '
    'patch resource "deployments" in API group "apps" in the namespace "tenant-acme"'
)


def test_a_server_error_is_retried_and_heals(backend, kube_apiserver, sleeps):
    backend.apply([factories.namespace()])
    kube_apiserver.fail_next(2, status=500, method="PATCH")

    results = backend.apply([factories.deployment()])

    assert [r.action for r in results] == ["created"]
    assert len(kube_apiserver.requests("apply")) == 4  # namespace, then two failures and success
    assert len(sleeps) == 2
    assert all(0 <= delay <= 5 for delay in sleeps)


def test_server_errors_that_persist_raise_a_retryable_server_error(backend, kube_apiserver, sleeps):
    kube_apiserver.fail_next(10, status=503, method="GET")

    with pytest.raises(ServerError) as raised:
        backend.get(ObjectRef.of(factories.namespace()))

    assert raised.value.retryable
    assert raised.value.status == 503
    assert len(kube_apiserver.requests("get")) == 4
    assert len(sleeps) == 3


def test_forbidden_carries_the_server_message_and_is_not_retried(backend, kube_apiserver, sleeps):
    backend.apply([factories.namespace()])
    kube_apiserver.reset_log()
    kube_apiserver.fail_next(1, status=403, message=RBAC_MESSAGE, method="PATCH")

    with pytest.raises(Forbidden) as raised:
        backend.apply([factories.deployment()])

    assert str(raised.value) == f"forbidden: {RBAC_MESSAGE}"
    assert raised.value.reason == "Forbidden"
    assert raised.value.status == 403
    assert not raised.value.retryable
    assert len(kube_apiserver.requests("apply")) == 1
    assert sleeps == []


def test_a_pod_over_quota_raises_quota_exceeded_with_the_numbers(backend):
    backend.apply([factories.namespace(), factories.resource_quota(gpus=1)])
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "warmup", "namespace": "tenant-acme"},
        "spec": factories.deployment(gpus=2)["spec"]["template"]["spec"],
    }

    with pytest.raises(QuotaExceeded) as raised:
        backend.apply([pod])

    error = raised.value
    assert error.reason == "QuotaExceeded"
    assert error.quota_name == "gpu"
    assert error.requested == {"requests.nvidia.com/gpu": "2"}
    assert error.used == {"requests.nvidia.com/gpu": "0"}
    assert error.limited == {"requests.nvidia.com/gpu": "1"}
    assert error.message == (
        'quota_exceeded: pods "warmup" is forbidden: exceeded quota: gpu, '
        "requested: requests.nvidia.com/gpu=2, used: requests.nvidia.com/gpu=0, "
        "limited: requests.nvidia.com/gpu=1"
    )


def test_an_invalid_object_raises_invalid_with_the_field(backend, kube_apiserver):
    backend.apply([factories.namespace()])
    broken = factories.deployment()
    del broken["spec"]["selector"]

    with pytest.raises(Invalid) as raised:
        backend.apply([broken])

    assert raised.value.field == "spec.selector"
    assert raised.value.status == 422
    assert 'Deployment.apps "chat-r1" is invalid: spec.selector: Required value' in str(
        raised.value
    )
    assert len(kube_apiserver.requests("apply")) == 2


def test_an_invalid_name_names_the_metadata_field(backend):
    with pytest.raises(Invalid) as raised:
        backend.apply([factories.namespace("Tenant_Acme")])

    assert raised.value.field == "metadata.name"


def test_an_object_in_a_missing_namespace_raises_not_found(backend):
    with pytest.raises(NotFound, match='namespaces "tenant-acme" not found'):
        backend.apply([factories.deployment()])


def test_a_conflict_is_not_retried(backend, kube_apiserver, sleeps):
    kube_apiserver.fail_next(1, status=409, message="the object has been modified")

    with pytest.raises(Conflict):
        backend.get(ObjectRef.of(factories.namespace()))

    assert sleeps == []


def test_throttling_waits_as_long_as_retry_after_says(backend, kube_apiserver, sleeps):
    kube_apiserver.fail_next(1, status=429, retry_after=3, method="GET")

    assert backend.get(ObjectRef.of(factories.namespace())) is None

    assert sleeps == [3.0]


def test_throttling_that_persists_raises_throttled(backend, kube_apiserver, sleeps):
    kube_apiserver.fail_next(10, status=429, method="GET")

    with pytest.raises(Throttled) as raised:
        backend.get(ObjectRef.of(factories.namespace()))

    assert raised.value.retryable
    assert raised.value.reason == "Throttled"
    assert len(sleeps) == 3
    # Full jitter: each delay is at most the exponential bound of its attempt.
    assert all(delay <= bound for delay, bound in zip(sleeps, (0.2, 0.4, 0.8), strict=True))


def test_an_unreachable_server_raises_unreachable_quickly(tmp_path, sleeps):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    configuration = Configuration(host=f"http://127.0.0.1:{closed_port}")
    configuration.retries = 0
    backend = KubernetesBackend(
        ApiClient(configuration),
        sleep=sleeps.append,
        discovery_cache_file=str(tmp_path / "discovery.json"),
    )
    started = time.monotonic()

    with pytest.raises(Unreachable) as raised:
        backend.get(ObjectRef.of(factories.namespace()))

    assert time.monotonic() - started < 2
    assert raised.value.retryable
    assert f"127.0.0.1:{closed_port}" in str(raised.value)
    assert len(sleeps) == 3


def test_a_request_that_times_out_raises_unreachable(kube_apiserver, tmp_path, sleeps):
    backend = KubernetesBackend(
        kube_apiserver.api_client(),
        sleep=sleeps.append,
        timeout=(1.0, 0.2),
        discovery_cache_file=str(tmp_path / "discovery.json"),
    )
    backend.get(ObjectRef.of(factories.namespace()))  # discovery done before the stall
    kube_apiserver.stall_next(4, seconds=0.5, method="GET")

    with pytest.raises(Unreachable, match="timed out"):
        backend.get(ObjectRef.of(factories.namespace()))

    assert len(sleeps) == 3
