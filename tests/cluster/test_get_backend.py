"""Choosing and configuring a backend from settings."""

from __future__ import annotations

import pytest
import yaml
from django.core.exceptions import ImproperlyConfigured

from control_plane.cluster import get_backend
from control_plane.cluster.directory_backend import DirectoryBackend
from control_plane.cluster.kubernetes_backend import KubernetesBackend
from control_plane.cluster.types import ObjectRef
from tests.cluster import factories


def test_the_directory_backend_writes_under_cluster_directory(settings, tmp_path):
    settings.CLUSTER_BACKEND = "directory"
    settings.CLUSTER_DIRECTORY = str(tmp_path / "manifests")

    backend = get_backend()
    backend.apply([factories.namespace()])

    assert isinstance(backend, DirectoryBackend)
    assert (tmp_path / "manifests" / "_cluster" / "namespace-tenant-acme.yaml").exists()


def test_the_kubernetes_backend_uses_the_kubeconfig_context(settings, tmp_path, kube_apiserver):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "fake", "cluster": {"server": kube_apiserver.url}}],
                "users": [{"name": "worker", "user": {"token": "t0ken"}}],
                "contexts": [
                    {"name": "other", "context": {"cluster": "absent", "user": "worker"}},
                    {"name": "fake", "context": {"cluster": "fake", "user": "worker"}},
                ],
                "current-context": "other",
            }
        )
    )
    settings.CLUSTER_BACKEND = "kubernetes"
    settings.KUBECONFIG = str(kubeconfig)
    settings.KUBE_CONTEXT = "fake"
    settings.KUBE_IN_CLUSTER = False
    settings.CLUSTER_FIELD_MANAGER = "cp-test"

    backend = get_backend()
    backend.apply([factories.namespace()])

    assert isinstance(backend, KubernetesBackend)
    assert backend.get(ObjectRef.of(factories.namespace())) is not None
    assert "fieldManager=cp-test" in kube_apiserver.requests("apply")[0].path


def test_missing_credentials_are_a_configuration_error(settings, tmp_path):
    settings.CLUSTER_BACKEND = "kubernetes"
    settings.KUBECONFIG = str(tmp_path / "absent")
    settings.KUBE_CONTEXT = ""
    settings.KUBE_IN_CLUSTER = True

    with pytest.raises(ImproperlyConfigured, match="cannot load Kubernetes credentials"):
        get_backend()


def test_an_unknown_backend_is_a_configuration_error(settings):
    settings.CLUSTER_BACKEND = "etcd"

    with pytest.raises(ImproperlyConfigured, match="'etcd'"):
        get_backend()
