"""API benchmark: requests/s and latency per route under gunicorn and PostgreSQL.

    .venv/bin/python tests/bench/bench_api.py [--clients 1,10,50] [--seconds 10] [--tenants 200]

Starts its own PostgreSQL (tests/servers.py), gunicorn (4 sync workers) and a Celery worker
(one process, the directory backend, the filesystem broker) that reconciles what the requests
change and removes deleted endpoints, as in production; seeds `--tenants` tenants of data, then
runs three workloads at each client count, each for `--seconds`:
- `one-tenant writes`: every client creates, patches and deletes its own endpoints in ONE tenant;
- `spread writes`: the same, each client in its own tenant;
- `reads`: endpoint list, endpoint detail and audit events of one tenant.
Prints a table per workload and, last, one JSON line. Exits 1 if any request answered 5xx.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

HOT_TENANT = "bench-00000"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _seed(tenants: int) -> dict:
    """Tenants with room for any number of endpoints, a platform admin and its key."""
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)

    from endpoints.services import model_version_create
    from tenants.services import QuotaValues, api_key_create, tenant_create
    from tests.factories import platform_user, principal, system
    from tests.world import gpu_model_spec, make_endpoint

    admin = principal(platform_user("admin"))
    quota = QuotaValues(
        gpus=100_000, max_endpoints=100_000, cpu_millicores=10**9, memory_bytes=2**50
    )
    version = model_version_create(actor=system(), tenant=None, spec=gpu_model_spec())
    for i in range(tenants):
        slug = f"bench-{i:05d}"
        tenant = tenant_create(actor=admin, slug=slug, display_name=slug, quota=quota)
        for j in range(3):
            make_endpoint(tenant, f"seed{j}", version)
    _, key = api_key_create(actor=admin, name="bench")
    from django.db import connections

    connections.close_all()
    return {"key": key, "model_version": version.pk}


@contextlib.contextmanager
def _worker(env: dict, workdir: Path):
    log = open(workdir / "worker.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/celery"),
            "-A",
            "control_plane",
            "worker",
            "--concurrency",
            "1",
            "--loglevel",
            "WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=log,
    )
    try:
        yield
    finally:
        process.terminate()
        process.wait(timeout=60)
        log.close()


@contextlib.contextmanager
def _gunicorn(env: dict, port: int, workdir: Path):
    log = open(workdir / "gunicorn.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "control_plane.wsgi",
            "--workers",
            "4",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=log,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.ConnectionError):
                requests.get(f"http://127.0.0.1:{port}/api/schema/", timeout=5)
                break
            time.sleep(0.2)
        else:
            raise RuntimeError(f"gunicorn did not start; see {workdir / 'gunicorn.log'}")
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.samples: dict[str, list[float]] = defaultdict(list)
        self.statuses: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))

    def timed(self, route: str, call: Callable[[], requests.Response]) -> requests.Response:
        start = time.perf_counter()
        response = call()
        elapsed = time.perf_counter() - start
        with self.lock:
            self.samples[route].append(elapsed)
            self.statuses[route][response.status_code] += 1
        return response


def _writer(base: str, session: requests.Session, tenant: str, prefix: str, model: int):
    counter = iter(range(10**9))

    def step(recorder: Recorder) -> None:
        name = f"{prefix}-{next(counter)}"
        collection = f"{base}/api/v1/tenants/{tenant}/endpoints/"
        body = {"name": name, "model_version": model, "scaling": {"max_replicas": 2}}
        created = recorder.timed("POST endpoint", lambda: session.post(collection, json=body))
        if created.status_code != 201:
            return
        item = f"{collection}{name}/"
        patch = {"scaling": {"max_replicas": 1}}
        recorder.timed("PATCH endpoint", lambda: session.patch(item, json=patch))
        recorder.timed("DELETE endpoint", lambda: session.delete(item))

    return step


def _reader(base: str, session: requests.Session):
    routes = [
        ("GET endpoints", f"{base}/api/v1/tenants/{HOT_TENANT}/endpoints/"),
        ("GET endpoint", f"{base}/api/v1/tenants/{HOT_TENANT}/endpoints/seed0/"),
        ("GET audit-events", f"{base}/api/v1/audit-events/?tenant={HOT_TENANT}&page_size=50"),
    ]

    def step(recorder: Recorder) -> None:
        for route, url in routes:
            recorder.timed(route, lambda url=url: session.get(url))

    return step


def _run(workload: str, clients: int, seconds: float, base: str, key: str, model: int) -> dict:
    recorder, stop = Recorder(), threading.Event()
    start = threading.Barrier(clients + 1)

    def client(index: int) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {key}"
        prefix = f"c{clients}-{index}-{workload[:3]}"
        if workload == "reads":
            step = _reader(base, session)
        else:
            tenant = HOT_TENANT if workload == "one-tenant writes" else f"bench-{index:05d}"
            step = _writer(base, session, tenant, prefix, model)
        start.wait()
        while not stop.is_set():
            step(recorder)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    routes = {}
    for route, samples in sorted(recorder.samples.items()):
        ordered = sorted(samples)
        quantiles = statistics.quantiles(ordered, n=100) if len(ordered) > 1 else ordered * 99
        routes[route] = {
            "requests": len(ordered),
            "per_second": round(len(ordered) / elapsed, 1),
            "p50_ms": round(quantiles[49] * 1000, 1),
            "p95_ms": round(quantiles[94] * 1000, 1),
            "p99_ms": round(quantiles[98] * 1000, 1),
            "statuses": dict(sorted(recorder.statuses[route].items())),
        }
    total = sum(len(samples) for samples in recorder.samples.values())
    errors = sum(
        count
        for statuses in recorder.statuses.values()
        for status, count in statuses.items()
        if status >= 500
    )
    return {
        "workload": workload,
        "clients": clients,
        "seconds": round(elapsed, 1),
        "requests_per_second": round(total / elapsed, 1),
        "server_errors": errors,
        "routes": routes,
    }


def print_report(results: list[dict]) -> None:
    header = f"{'workload':<18} {'clients':>7} {'route':<17} {'req/s':>7} {'p50 ms':>7} "
    header += f"{'p95 ms':>7} {'p99 ms':>7}  statuses"
    print(header)
    for result in results:
        for route, r in result["routes"].items():
            print(
                f"{result['workload']:<18} {result['clients']:>7} {route:<17} "
                f"{r['per_second']:>7} {r['p50_ms']:>7} {r['p95_ms']:>7} {r['p99_ms']:>7}  "
                f"{json.dumps(r['statuses'])}"
            )
        print(
            f"{result['workload']:<18} {result['clients']:>7} {'(all)':<17} "
            f"{result['requests_per_second']:>7}   5xx: {result['server_errors']}"
        )
    print(json.dumps(results, sort_keys=True))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="1,10,50", help="comma-separated client counts")
    parser.add_argument("--seconds", type=float, default=10.0, help="per workload and count")
    parser.add_argument("--tenants", type=int, default=200)
    args = parser.parse_args()
    counts = [int(c) for c in args.clients.split(",")]
    if max(counts) > args.tenants:
        parser.error("--tenants must be at least the largest client count (spread writes)")

    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        from tests.servers import postgres_server

        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "control_plane.settings",
            "SECRET_KEY": "bench-api-secret-key-not-for-production",
            "DATABASE_URL": stack.enter_context(postgres_server()),
            "RUN_DIR": str(workdir / "run"),
            "CLUSTER_DIRECTORY": str(workdir / "manifests"),
            "LOG_LEVEL": "WARNING",
        }
        os.environ.update(env)
        seeded = _seed(args.tenants)
        port = _free_port()
        stack.enter_context(_worker(env, workdir))
        stack.enter_context(_gunicorn(env, port, workdir))
        base = f"http://127.0.0.1:{port}"
        results = [
            _run(workload, clients, args.seconds, base, seeded["key"], seeded["model_version"])
            for workload in ("one-tenant writes", "spread writes", "reads")
            for clients in counts
        ]
    print_report(results)
    if any(result["server_errors"] for result in results):
        print("FAIL: some requests answered 5xx", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
