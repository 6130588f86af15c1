"""The directory backend's output as GitOps tools read it, written by the reconcilers."""

from __future__ import annotations

import pytest
import yaml

from control_plane.cluster.directory_backend import DirectoryBackend
from endpoints import services as endpoint_services
from endpoints.reconciler import reconcile_endpoint
from tenants.reconciler import reconcile_tenant
from tests.factories import system

pytestmark = pytest.mark.django_db


def test_each_folder_gets_a_kustomization_in_dependency_order(world, tmp_path):
    backend = DirectoryBackend(tmp_path / "out")
    reconcile_tenant(world.own.pk, backend=backend)
    reconcile_endpoint(world.own_endpoint.pk, backend=backend)

    folder = tmp_path / "out" / "tenant-acme"
    listed = yaml.safe_load((folder / "kustomization.yaml").read_text())["resources"]
    files = sorted(p.name for p in folder.glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(listed) == files  # every file, once
    deployment = listed.index("deployment.apps-chat-r1.yaml")
    for dependency in ("serviceaccount-", "resourcequota-", "limitrange-"):
        assert next(i for i, f in enumerate(listed) if f.startswith(dependency)) < deployment

    root = yaml.safe_load((tmp_path / "out" / "kustomization.yaml").read_text())["resources"]
    assert root[0] == "_cluster"
    assert "tenant-acme" in root


def test_pruning_keeps_the_kustomizations_in_step(world, tmp_path):
    backend = DirectoryBackend(tmp_path / "out")
    reconcile_tenant(world.own.pk, backend=backend)
    reconcile_endpoint(world.own_endpoint.pk, backend=backend)
    endpoint_services.endpoint_delete(actor=system(), endpoint=world.own_endpoint)
    reconcile_endpoint(world.own_endpoint.pk, backend=backend)

    folder = tmp_path / "out" / "tenant-acme"
    listed = yaml.safe_load((folder / "kustomization.yaml").read_text())["resources"]
    assert "deployment.apps-chat-r1.yaml" not in listed
    assert all((folder / name).exists() for name in listed)
