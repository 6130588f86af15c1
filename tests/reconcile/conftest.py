from __future__ import annotations

import random

import pytest

from control_plane.cluster.directory_backend import DirectoryBackend
from control_plane.cluster.kubernetes_backend import KubernetesBackend
from tests.fakes.conftest_plugin import kube_apiserver  # noqa: F401  (fixture)
from tests.fakes.kube_apiserver import platform_namespaces
from tests.world import build_world


@pytest.fixture
def kube_backend(kube_apiserver, tmp_path):  # noqa: F811
    """A backend on a fake cluster that has what the platform team installed: the KEDA HTTP
    add-on's, the gateway's and monitoring's namespaces."""
    backend = KubernetesBackend(
        kube_apiserver.api_client(),
        sleep=lambda seconds: None,
        rng=random.Random(7),
        discovery_cache_file=str(tmp_path / "discovery.json"),
    )
    backend.apply(platform_namespaces())
    kube_apiserver.reset_log()
    return backend


@pytest.fixture
def directory_backend(tmp_path):
    return DirectoryBackend(tmp_path / "manifests")


@pytest.fixture
def world(db):
    return build_world()
