from __future__ import annotations

import random

import pytest

from control_plane.cluster.kubernetes_backend import KubernetesBackend
from tests.fakes.conftest_plugin import kube_apiserver  # noqa: F401  (fixture)
from tests.fakes.kube_apiserver import FakeKubeApiServer


@pytest.fixture
def sleeps() -> list[float]:
    """The delays the backend asked for; nothing really waits."""
    return []


@pytest.fixture
def backend(kube_apiserver: FakeKubeApiServer, sleeps: list[float], tmp_path) -> KubernetesBackend:  # noqa: F811
    return KubernetesBackend(
        kube_apiserver.api_client(),
        field_manager="llm-control-plane",
        sleep=sleeps.append,
        rng=random.Random(7),
        discovery_cache_file=str(tmp_path / "discovery.json"),
    )
