"""The embedded broker of `make run` (kombu's filesystem transport) drains a backlog: its worker
polled an empty remote-control queue after every task and slept a second, so it ran one task a
second, and a minute of writes left thousands of reconciles queued."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BACKLOG = 100


def _env(tmp_path: Path) -> dict[str, str]:
    clean = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_", "CELERY_", "SECRET_KEY", "RUN_DIR"))
    }
    return clean | {
        "DEBUG": "true",
        "RUN_DIR": str(tmp_path / "run"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }


@pytest.mark.integration
def test_a_worker_drains_a_backlog_of_the_filesystem_broker_at_once(tmp_path):
    env = _env(tmp_path)
    # `celery.accumulate` is Celery's own task: no database, no cluster.
    queue = (
        "import django; django.setup()\n"
        "from control_plane.celery import app\n"
        f"for i in range({BACKLOG}): app.send_task('celery.accumulate', args=[i])\n"
    )
    subprocess.run(
        [sys.executable, "-c", queue],
        cwd=ROOT,
        env=env | {"DJANGO_SETTINGS_MODULE": "control_plane.settings"},
        check=True,
        timeout=60,
    )
    messages = tmp_path / "run" / "broker" / "out"
    assert len(list(messages.iterdir())) == BACKLOG

    worker = subprocess.Popen(
        [str(ROOT / ".venv/bin/celery"), "-A", "control_plane", "worker", "--concurrency", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # At one task a second the backlog takes 100 s; drained, it takes about two.
        deadline = time.monotonic() + 30
        while any(messages.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = len(list(messages.iterdir()))
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert left == 0
