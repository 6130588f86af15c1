"""`make run` from the README: migrates, seeds demo data, and the console answers on its port,
served by gunicorn as in the image."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.integration
def test_make_run_serves_the_console_with_demo_data(tmp_path):
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_", "CELERY_", "SECRET_KEY", "CLUSTER_"))
    } | {"PORT": str(port), "RUN_DIR": str(tmp_path / "run")}
    output = (tmp_path / "make-run.log").open("w+")
    process = subprocess.Popen(
        ["make", "run"],
        cwd=ROOT,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline, answer = time.monotonic() + 120, None
        while time.monotonic() < deadline and answer is None and process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2) as reply:
                    answer = (reply.status, reply.read().decode(), reply.headers["Server"])
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                # TimeoutError: the first request of a worker still imports the URLconf.
                time.sleep(0.5)
        output.seek(0)
        log = output.read()
        assert answer is not None, log
        assert answer[0] == 200
        assert "Sign in" in answer[1]
        # The production server, not Django's development one.
        assert answer[2] == "gunicorn"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as reply:
            assert json.load(reply)["status"] == "ready"
        assert "Admin API key: cpk_" in log
        assert f"http://127.0.0.1:{port}/" in log
        assert (tmp_path / "run" / "control-plane.sqlite3").exists()
        # The worker, fed by the filesystem broker, writes the demo tenant's objects.
        deployment = (
            tmp_path / "run" / "manifests" / "tenant-research" / "deployment.apps-chat-r1.yaml"
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not deployment.exists():
            time.sleep(0.5)
        assert deployment.exists(), list((tmp_path / "run").rglob("*"))
        # The worker's reconciles show in the web's /metrics: both write to one multiprocess
        # directory under RUN_DIR. The worker records a reconcile once it has returned, a moment
        # after its files are written.
        wanted = 'control_plane_reconcile_duration_seconds_count{kind="endpoint"'
        metrics = ""
        deadline = time.monotonic() + 15
        while wanted not in metrics and time.monotonic() < deadline:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
                metrics = reply.read().decode()
            if wanted not in metrics:
                time.sleep(0.5)
        assert wanted in metrics
        assert list((tmp_path / "run" / "prometheus").glob("*.db"))
        # Every file of the embedded defaults stays under RUN_DIR, the broker's exchange
        # tables included (kombu writes them to ./control unless told otherwise).
        assert list((tmp_path / "run" / "broker" / "control").glob("*.exchange"))
        assert not (ROOT / "control").exists()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        output.close()
