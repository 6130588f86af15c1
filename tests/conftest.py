"""Session-wide fixtures: real PostgreSQL, Redis and Prometheus servers, and the test people."""

from __future__ import annotations

import os

import pytest

from tests import servers


@pytest.fixture(scope="session")
def postgres_url() -> str:
    supplied = os.environ.get("TEST_DATABASE_URL")
    if supplied:
        yield supplied
        return
    with servers.postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def django_db_modify_db_settings(postgres_url: str) -> None:
    from django.conf import settings
    from django.db import connections

    from control_plane.settings import database_settings

    # Mutated in place: Django's connection handler holds this very dict. A connection wrapper
    # made before this point has the wrong backend class, so it is dropped.
    # Built as the settings build it, so the suite runs with the production database options.
    settings.DATABASES["default"].update(database_settings(postgres_url))
    connections["default"].close()
    del connections["default"]


@pytest.fixture(scope="session")
def redis_url() -> str:
    supplied = os.environ.get("TEST_REDIS_URL")
    if supplied:
        yield supplied
        return
    with servers.redis_server() as url:
        yield url


@pytest.fixture(scope="session")
def prometheus_session() -> servers.PrometheusServer:
    with servers.prometheus_server() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Lockout and denial counters live in the cache; each test starts without them."""
    from django.core.cache import cache

    cache.clear()
