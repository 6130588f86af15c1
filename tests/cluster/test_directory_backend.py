"""The directory backend: deterministic YAML files for a GitOps tool."""

from __future__ import annotations

import pytest
import yaml

from control_plane.cluster.directory_backend import DirectoryBackend
from control_plane.cluster.errors import Invalid
from control_plane.cluster.labels import MANAGED_BY_LABEL, MANAGED_BY_VALUE
from control_plane.cluster.types import ObjectRef
from tests.cluster import factories


def _snapshot(root) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _mtimes(root) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def test_it_writes_one_file_per_object_in_namespace_folders(tmp_path):
    results = DirectoryBackend(tmp_path).apply(factories.tenant_objects())

    assert {r.action for r in results} == {"created"}
    assert sorted(_snapshot(tmp_path)) == [
        "_cluster/kustomization.yaml",
        "_cluster/namespace-tenant-acme.yaml",
        "kustomization.yaml",
        "tenant-acme/deployment.apps-chat-r1.yaml",
        "tenant-acme/httproute.gateway.networking.k8s.io-chat.yaml",
        "tenant-acme/kustomization.yaml",
        "tenant-acme/resourcequota-gpu.yaml",
        "tenant-acme/scaledobject.keda.sh-chat.yaml",
    ]


def test_two_runs_give_byte_identical_output(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    DirectoryBackend(first).apply(factories.tenant_objects())
    DirectoryBackend(second).apply(list(reversed(factories.tenant_objects())))

    assert _snapshot(first) == _snapshot(second)


def test_a_second_run_writes_nothing(tmp_path):
    backend = DirectoryBackend(tmp_path)
    backend.apply(factories.tenant_objects())
    before = _mtimes(tmp_path)

    results = backend.apply(factories.tenant_objects())

    assert {r.action for r in results} == {"unchanged"}
    assert _mtimes(tmp_path) == before


def test_a_change_rewrites_only_that_file(tmp_path):
    backend = DirectoryBackend(tmp_path)
    backend.apply(factories.tenant_objects())
    objects = factories.tenant_objects()
    objects[2] = factories.deployment(image="vllm/vllm-openai:v0.12.0")

    results = backend.apply(objects)

    assert [(r.ref.kind, r.action) for r in results if r.action != "unchanged"] == [
        ("Deployment", "updated")
    ]
    assert backend.get(ObjectRef.of(objects[2])) == objects[2]


def test_yaml_keys_are_sorted_and_block_style(tmp_path):
    DirectoryBackend(tmp_path).apply([factories.namespace(), factories.deployment()])

    text = (tmp_path / "tenant-acme" / "deployment.apps-chat-r1.yaml").read_text()

    assert text.startswith("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n")
    assert "{" not in text
    top_level = [line.split(":")[0] for line in text.splitlines() if not line.startswith(" ")]
    assert top_level == sorted(top_level)


def test_no_temporary_files_are_left_behind(tmp_path):
    DirectoryBackend(tmp_path).apply(factories.tenant_objects())

    assert not [p for p in tmp_path.rglob(".*")]


def test_get_reads_back_what_was_applied(tmp_path):
    backend = DirectoryBackend(tmp_path)
    backend.apply(factories.tenant_objects())

    assert backend.get(ObjectRef.of(factories.scaled_object())) == factories.scaled_object()
    assert backend.get(ObjectRef("v1", "Secret", "tenant-acme", "absent")) is None


def test_list_filters_by_kind_group_and_selector(tmp_path):
    backend = DirectoryBackend(tmp_path)
    backend.apply(
        [
            factories.namespace(),
            factories.deployment("chat-r1", labels={"endpoint": "chat"}),
            factories.deployment("code-r1", labels={"endpoint": "code"}),
            factories.scaled_object(),
        ]
    )

    found = backend.list("apps/v1", "Deployment", "tenant-acme", {"endpoint": "code"})

    assert [obj["metadata"]["name"] for obj in found] == ["code-r1"]
    assert backend.list("v1", "Namespace", None, {MANAGED_BY_LABEL: MANAGED_BY_VALUE}) == [
        factories.namespace()
    ]


def test_kinds_of_the_same_name_in_different_groups_do_not_collide(tmp_path):
    backend = DirectoryBackend(tmp_path)
    core = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "x", "namespace": "n"}}
    events = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": core["metadata"]}

    backend.apply([core, events])

    assert backend.list("v1", "Event", "n", {}) == [core]
    assert backend.list("events.k8s.io/v1", "Event", "n", {}) == [events]


def test_delete_removes_the_file_and_the_empty_folder(tmp_path):
    backend = DirectoryBackend(tmp_path)
    backend.apply([factories.deployment()])

    assert backend.delete(ObjectRef.of(factories.deployment())) is True

    assert not (tmp_path / "tenant-acme").exists()
    assert backend.delete(ObjectRef.of(factories.deployment())) is False


def test_deleting_a_namespace_removes_its_folder(tmp_path):
    backend = DirectoryBackend(tmp_path)
    backend.apply(factories.tenant_objects())

    backend.delete(ObjectRef.of(factories.namespace()))

    assert _snapshot(tmp_path) == {}


def test_objects_no_longer_desired_can_be_pruned(tmp_path):
    pruned, reference = tmp_path / "pruned", tmp_path / "reference"
    backend = DirectoryBackend(pruned)
    backend.apply(factories.tenant_objects())
    desired = factories.tenant_objects()[:-1]
    wanted = {ObjectRef.of(obj) for obj in desired}

    managed = {MANAGED_BY_LABEL: MANAGED_BY_VALUE}
    for obj in backend.list("gateway.networking.k8s.io/v1", "HTTPRoute", "tenant-acme", managed):
        if ObjectRef.of(obj) not in wanted:
            backend.delete(ObjectRef.of(obj))

    DirectoryBackend(reference).apply(desired)
    assert _snapshot(pruned) == _snapshot(reference)


@pytest.mark.parametrize("name", ["../escape", "a/b", "Upper", ""])
def test_names_that_are_not_dns_subdomains_are_refused(tmp_path, name):
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "n"}}

    with pytest.raises(Invalid):
        DirectoryBackend(tmp_path).apply([obj])

    assert _snapshot(tmp_path) == {}


def test_files_are_plain_yaml_a_gitops_tool_can_read(tmp_path):
    DirectoryBackend(tmp_path).apply([factories.namespace()])

    loaded = yaml.safe_load((tmp_path / "_cluster" / "namespace-tenant-acme.yaml").read_text())

    assert loaded == factories.namespace()
