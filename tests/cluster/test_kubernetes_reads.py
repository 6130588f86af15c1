"""get, list and delete through the kubernetes backend."""

from __future__ import annotations

import pytest

from control_plane.cluster.errors import NotFound
from control_plane.cluster.labels import MANAGED_BY_LABEL, MANAGED_BY_VALUE
from control_plane.cluster.types import ObjectRef
from tests.cluster import factories


def test_get_returns_none_for_an_absent_object(backend):
    ref = ObjectRef("apps/v1", "Deployment", "tenant-acme", "nothing")

    assert backend.get(ref) is None


def test_get_of_a_kind_the_cluster_does_not_serve_raises_not_found(backend):
    ref = ObjectRef("example.com/v1", "Widget", "tenant-acme", "w")

    with pytest.raises(NotFound, match="does not serve"):
        backend.get(ref)


def test_delete_returns_false_when_already_absent(backend):
    assert backend.delete(ObjectRef.of(factories.deployment())) is False


def test_delete_removes_the_object(backend):
    backend.apply([factories.namespace(), factories.deployment()])

    assert backend.delete(ObjectRef.of(factories.deployment())) is True
    assert backend.get(ObjectRef.of(factories.deployment())) is None


def test_deleting_a_namespace_deletes_what_is_in_it(backend):
    backend.apply(factories.tenant_objects())

    backend.delete(ObjectRef.of(factories.namespace()))

    assert backend.get(ObjectRef.of(factories.http_route())) is None
    assert backend.list("apps/v1", "Deployment", "tenant-acme", {}) == []


def test_list_filters_by_label_selector(backend):
    backend.apply(
        [
            factories.namespace(),
            factories.deployment("chat-r1", labels={"endpoint": "chat"}),
            factories.deployment("code-r1", labels={"endpoint": "code"}),
        ]
    )

    found = backend.list(
        "apps/v1",
        "Deployment",
        "tenant-acme",
        {MANAGED_BY_LABEL: MANAGED_BY_VALUE, "endpoint": "chat"},
    )

    assert [obj["metadata"]["name"] for obj in found] == ["chat-r1"]
    # Lists of built-in kinds come without apiVersion and kind; the backend puts them back.
    assert (found[0]["apiVersion"], found[0]["kind"]) == ("apps/v1", "Deployment")


def test_list_without_namespace_spans_namespaces(backend):
    backend.apply(factories.tenant_objects("tenant-a") + factories.tenant_objects("tenant-b"))

    found = backend.list("keda.sh/v1alpha1", "ScaledObject", None, {})

    assert sorted(obj["metadata"]["namespace"] for obj in found) == ["tenant-a", "tenant-b"]


def test_list_of_cluster_scoped_kind_finds_managed_namespaces(backend):
    backend.apply([factories.namespace("tenant-a"), factories.namespace("tenant-b")])

    found = backend.list("v1", "Namespace", None, {MANAGED_BY_LABEL: MANAGED_BY_VALUE})

    assert [obj["metadata"]["name"] for obj in found] == ["tenant-a", "tenant-b"]


def test_objects_no_longer_desired_can_be_pruned(backend):
    backend.apply(factories.tenant_objects())
    desired = {ObjectRef.of(obj) for obj in factories.tenant_objects()[:-1]}

    live = backend.list(
        "gateway.networking.k8s.io/v1",
        "HTTPRoute",
        "tenant-acme",
        {MANAGED_BY_LABEL: MANAGED_BY_VALUE},
    )
    for obj in live:
        if ObjectRef.of(obj) not in desired:
            backend.delete(ObjectRef.of(obj))

    assert backend.get(ObjectRef.of(factories.http_route())) is None
