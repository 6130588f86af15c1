import os
import socket
import threading

import pytest
from django.db import connection

from tests.conftest import _OPENED_IN_THREADS, _wait_for_other_sessions
from tests.servers import free_port, process_holding_local_port


@pytest.mark.django_db
def test_the_suite_runs_on_postgresql():
    assert connection.vendor == "postgresql"


def test_the_process_holding_a_client_port_is_found():
    """What names a session left open on the test database (tests/conftest.py)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname()) as client:
            holder = process_holding_local_port(client.getsockname()[1])
    assert holder.split(" ", 1)[0] == str(os.getpid())
    assert "python" in holder
    assert process_holding_local_port(free_port()) == ""


@pytest.mark.django_db
def test_a_session_a_thread_leaves_open_is_found_and_named_until_it_closes():
    """What the session's teardown waits for and reports before the test database is dropped
    (tests/conftest.py): another session on the database, with the thread and test that opened
    it."""
    from django.db import connection as main_connection

    opened, close = threading.Event(), threading.Event()
    backend: list[int] = []

    def hold_a_connection() -> None:
        from django.db import connection

        connection.ensure_connection()
        backend.append(connection.connection.info.backend_pid)
        opened.set()
        close.wait(timeout=30)
        connection.close()

    thread = threading.Thread(target=hold_a_connection, name="holder")
    thread.start()
    try:
        assert opened.wait(timeout=30)
        assert backend[0] != main_connection.connection.info.backend_pid
        assert backend[0] in {row[0] for row in _wait_for_other_sessions(timeout=0)}
        named = _OPENED_IN_THREADS[backend[0]]
        assert "'holder'" in named
        assert "test_a_session_a_thread_leaves_open_is_found_and_named" in named
    finally:
        close.set()
        thread.join(timeout=30)
    assert backend[0] not in {row[0] for row in _wait_for_other_sessions(timeout=5)}
