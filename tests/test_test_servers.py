import os
import socket

import pytest
from django.db import connection

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
