"""Throwaway PostgreSQL, Redis and Prometheus servers for the test session, on free ports.

PostgreSQL refuses to run as root, so as root the cluster is created and run as the `postgres`
user in a temporary directory that user owns.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def process_holding_local_port(port: int) -> str:
    """'PID command line' of the local process with a TCP socket bound to `port` (a database
    client's end of its connection), or '' when none is found."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    for fd_dir in glob.glob("/proc/[0-9]*/fd"):
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue  # gone, or not ours to read
        links = set()
        for fd in fds:
            # An fd closed since the listing (the listing's own, for this process) is skipped.
            with contextlib.suppress(OSError):
                links.add(os.readlink(os.path.join(fd_dir, fd)))
        if links & inodes:
            pid = fd_dir.split("/")[2]
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            return f"{pid} {command.decode(errors='replace').strip()}"
    return ""


def _postgres_bin() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), reverse=True)
    if not candidates:
        raise RuntimeError(
            "PostgreSQL server binaries not found under /usr/lib/postgresql/<version>/bin; "
            "run `make test` (installs them as root) or `apt-get install postgresql`."
        )
    return Path(candidates[0]).parent


def _wait_for_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


@contextmanager
def postgres_server() -> Iterator[str]:
    """Yields a DATABASE_URL for a fresh cluster; the cluster is deleted afterwards."""
    bindir = _postgres_bin()
    as_root = os.geteuid() == 0
    workdir = Path(tempfile.mkdtemp(prefix="cp-test-pg-"))
    run_as: list[str] = []
    if as_root:
        postgres_user = pwd.getpwnam("postgres")
        os.chown(workdir, postgres_user.pw_uid, postgres_user.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    datadir, port = workdir / "data", free_port()
    subprocess.run(
        [*run_as, bindir / "initdb", "-D", datadir, "-A", "trust", "-U", "postgres", "-E", "UTF8"],
        check=True,
        capture_output=True,
    )
    options = (
        f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    start = [bindir / "pg_ctl", "-D", datadir, "-o", options, "-l", workdir / "log", "-w", "start"]
    subprocess.run(
        [*run_as, *start],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgres://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*run_as, bindir / "pg_ctl", "-D", datadir, "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def redis_server() -> Iterator[str]:
    """Yields a redis:// URL for a fresh in-memory server."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError(
            "redis-server not found; run `make test` or apt-get install redis-server"
        )
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, 10)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


class PrometheusServer:
    """A Prometheus scraping targets that tests set, every second.

    Targets are static: `scrape` rewrites the configuration and asks Prometheus to reload it
    (`--web.enable-lifecycle`), which is immediate, unlike file discovery's refresh.
    """

    scrape_interval_s = 1

    def __init__(self, url: str, config_path: Path) -> None:
        self.url = url
        self._config_path = config_path

    def scrape(self, targets: list[tuple[str, dict[str, str]]], timeout: float = 30) -> None:
        """Scrape each `host:port` with its labels (e.g. namespace, endpoint, revision), and
        return once each has been scraped successfully.

        Prometheus hands new targets to its scrapers only every few seconds (the discovery
        manager batches updates), so without the wait a test's first requests could land
        before the first sample and `increase` would miss them.
        """
        self._config_path.write_text(self._config(targets))
        request = urllib.request.Request(f"{self.url}/-/reload", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
        wanted = {address for address, _ in targets}
        deadline = time.monotonic() + timeout
        while wanted - self._scraped():
            if time.monotonic() > deadline:
                raise RuntimeError(f"Prometheus did not scrape {sorted(wanted)} in {timeout} s")
            time.sleep(0.2)

    def _scraped(self) -> set[str]:
        with urllib.request.urlopen(f"{self.url}/api/v1/targets?state=active", timeout=10) as r:
            active = json.load(r)["data"]["activeTargets"]
        return {t["labels"]["instance"] for t in active if t["health"] == "up"}

    def _config(self, targets: list[tuple[str, dict[str, str]]]) -> str:
        static = [{"targets": [address], "labels": labels} for address, labels in targets]
        config = {
            "global": {
                "scrape_interval": f"{self.scrape_interval_s}s",
                "evaluation_interval": f"{self.scrape_interval_s}s",
            },
            "scrape_configs": [{"job_name": "vllm", "static_configs": static}],
        }
        # JSON is YAML; Prometheus reads it as such.
        return json.dumps(config)


@contextmanager
def prometheus_server() -> Iterator[PrometheusServer]:
    """Yields a fresh Prometheus with no targets; its data directory is deleted afterwards."""
    binary = shutil.which("prometheus")
    if binary is None:
        raise RuntimeError("prometheus not found; run `make test` or apt-get install prometheus")
    workdir = Path(tempfile.mkdtemp(prefix="cp-test-prom-"))
    port = free_port()
    server = PrometheusServer(f"http://127.0.0.1:{port}", workdir / "prometheus.yml")
    (workdir / "prometheus.yml").write_text(server._config([]))
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-lifecycle",
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(workdir / "log", "wb"),  # noqa: SIM115 - closed with the process
    )
    try:
        _wait_for_ready(f"{server.url}/-/ready", timeout=30)
        yield server
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


def _wait_for_ready(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready after {timeout} s")
