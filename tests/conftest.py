"""Session-wide fixtures: real PostgreSQL, Redis and Prometheus servers, and the test people."""

from __future__ import annotations

import os
import threading
import time
import warnings

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


# Backend pid -> which thread, during which test, opened a connection outside the main thread:
# what names a session such a thread leaves open (a thread's connection outlives the thread
# unless closed).
_OPENED_IN_THREADS: dict[int, str] = {}


def _remember_thread_connection(sender, connection, **kwargs) -> None:
    if threading.current_thread() is threading.main_thread():
        return
    test = os.environ.get("PYTEST_CURRENT_TEST", "no test")
    _OPENED_IN_THREADS[connection.connection.info.backend_pid] = (
        f"opened by thread {threading.current_thread().name!r} during {test}"
    )


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test database, and a check before it is dropped: a session a test left
    open (a thread's connection, a child process still running) makes the drop fail with
    "being accessed by other users". Such a session gets 10 s to end; one still open is named,
    with the local process holding it, and ended, so the drop goes through."""
    from django.db.backends.signals import connection_created

    connection_created.connect(_remember_thread_connection)
    yield
    connection_created.disconnect(_remember_thread_connection)
    with django_db_blocker.unblock():
        lingering = _wait_for_other_sessions(timeout=10.0)
        if lingering:
            from django.db import connection

            described = "; ".join(
                f"backend {pid} ({application or 'no application name'}, since {started:%H:%M:%S}, "
                f"{state}: {query!r}) held by {servers.process_holding_local_port(port) or '?'}, "
                f"{_OPENED_IN_THREADS.get(pid, 'not opened in a thread of this process')}"
                for pid, application, port, started, state, query in lingering
            )
            warnings.warn(f"sessions left open on the test database: {described}", stacklevel=1)
            with connection.cursor() as cursor:
                for pid, *_ in lingering:
                    cursor.execute("SELECT pg_terminate_backend(%s)", [pid])


def _wait_for_other_sessions(timeout: float) -> list[tuple]:
    from django.db import connection

    deadline = time.monotonic() + timeout
    while True:
        with connection.cursor() as cursor:
            # Inside a transaction PostgreSQL answers pg_stat_activity from its first snapshot;
            # a fresh one each time sees sessions end.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT pid, application_name, client_port, backend_start, state, "
                "left(query, 120) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            sessions = cursor.fetchall()
        if not sessions or time.monotonic() > deadline:
            return sessions
        time.sleep(0.2)


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
