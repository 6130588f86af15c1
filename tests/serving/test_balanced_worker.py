"""The gunicorn worker class of control_plane/gunicorn_conf.py spreads keep-alive connections
opened at once over its workers, and leaves none waiting."""

from __future__ import annotations

import collections
import http.client
import subprocess
import threading
import time
from pathlib import Path

import pytest

from control_plane import gunicorn_conf
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = 40


def _serve(port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            f"--worker-class={gunicorn_conf.worker_class}",
            "--workers=2",
            "--threads=2",
            f"--bind=127.0.0.1:{port}",
            "--log-level=warning",
            "tests.serving.pid_app:application",
        ],
        cwd=ROOT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/")
            connection.getresponse().read()
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("gunicorn did not answer")


def _closed_loop(port: int, seconds: float) -> dict[int, tuple[str, int]]:
    """CLIENTS threads, each with one keep-alive connection, sending requests back to back:
    {client: (the pid that served it, its requests)}."""
    served: dict[int, tuple[str, int]] = {}
    start = threading.Barrier(CLIENTS)
    stop = time.monotonic() + seconds

    def client(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        start.wait()
        count, pid = 0, ""
        while time.monotonic() < stop:
            connection.request("GET", "/")
            pid = connection.getresponse().read().decode()
            count += 1
        served[index] = (pid, count)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return served


@pytest.mark.integration
def test_connections_opened_at_once_spread_over_the_workers_and_each_is_served():
    port = free_port()
    process = _serve(port)
    try:
        served = _closed_loop(port, seconds=3.0)
    finally:
        process.terminate()
        process.wait(timeout=30)

    assert len(served) == CLIENTS
    assert all(count > 0 for _, count in served.values())  # none left in the backlog
    per_worker = collections.Counter(pid for pid, _ in served.values())
    # The stock gthread worker gives one worker 30-47 of 50 such connections on two busy cores.
    assert len(per_worker) == 2
    assert max(per_worker.values()) <= CLIENTS * 0.65, per_worker
