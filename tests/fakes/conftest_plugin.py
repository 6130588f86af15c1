"""pytest fixtures for the fakes; import them into a conftest.py, or list this module in the
root conftest's `pytest_plugins`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.kube_apiserver import FakeKubeApiServer


@pytest.fixture
def kube_apiserver() -> Iterator[FakeKubeApiServer]:
    with FakeKubeApiServer() as server:
        yield server
