"""API benchmark: requests/s and latency per route under gunicorn and PostgreSQL.

    .venv/bin/python tests/bench/bench_api.py [--clients 1,10,50] [--seconds 10] [--tenants 200]
        [--workers N --threads N]   # default: control_plane/gunicorn_conf.py's (the settings')
        [--warmup 2]                # seconds of ramp before measuring, reported apart

Starts its own PostgreSQL (tests/servers.py), gunicorn with the production configuration
(control_plane/gunicorn_conf.py) and a Celery worker (one process, the directory backend, the
filesystem broker) that reconciles what the requests change and removes deleted endpoints, as in
production; seeds `--tenants` tenants of data, then runs three workloads at each client count,
each for `--seconds`:
- `one-tenant writes`: every client creates, patches and deletes its own endpoints in ONE tenant;
- `spread writes`: the same, each client in its own tenant;
- `reads`: endpoint list, endpoint detail and audit events of one tenant.

A client is a closed loop: one thread with one keep-alive connection (`http.client`) that sends
its next request as soon as the previous answer is read in full, with no think time. The clients
run in this process on the same cores as the server; each workload reports the CPU this process
used (the clients' own cost), what the worker used beside it and how busy the whole machine
was, so a run on a shared machine can be told apart from a slow server. Reads run first, on the
seeded data; before each workload the benchmark waits (up to a minute, printed) for the worker
to drain the reconciles the previous one left: 50 clients of writes leave minutes of deletes,
which earlier runs measured the reads against.
The first `--warmup` seconds of each workload are the ramp, not the steady state: all clients
send their first request at the same instant, to worker threads whose connections and prepared
statements are not made yet (at 50 clients those first requests took 1.1-1.4 s and were the
whole p99 of the endpoint list). They are timed and reported on their own line (requests, p99,
5xx); the figures per route and the throughput are the steady state after them. Answers 5xx
count as errors in both.
Prints a table per workload and, last, one JSON line. Exits 1 if any request answered 5xx.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
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

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

HOT_TENANT = "bench-00000"
WORKLOADS = ("reads", "one-tenant writes", "spread writes")


class Client:
    """One keep-alive HTTP/1.1 connection with the bench's API key. `requests` costs about
    four times the CPU per request (docs/benchmarks/api.md), CPU taken from the server on the
    same cores."""

    def __init__(self, port: int, key: str) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Authorization": f"Bearer {key}", "Accept": "application/json"}

    def request(self, method: str, path: str, body: dict | None = None) -> int:
        """Send, read the whole answer, return its status. A connection the server closed
        (after its keep-alive timeout, or a worker restart) is opened again, once."""
        payload = json.dumps(body).encode() if body is not None else None
        headers = self.headers | ({"Content-Type": "application/json"} if payload else {})
        for attempt in (1, 2):
            try:
                self.connection.request(method, path, body=payload, headers=headers)
                response = self.connection.getresponse()
                response.read()
                return response.status
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.connection.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.connection.close()


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
        yield process.pid
    finally:
        process.terminate()
        process.wait(timeout=60)
        log.close()


def _answers(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/api/schema/")
        connection.getresponse().read()
        return True
    except OSError:
        return False
    finally:
        connection.close()


@contextlib.contextmanager
def _gunicorn(env: dict, port: int, workdir: Path):
    log = open(workdir / "gunicorn.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "--config",
            "python:control_plane.gunicorn_conf",
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
        while not _answers(port):
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start; see {workdir / 'gunicorn.log'}")
            time.sleep(0.2)
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of every CPU since boot, from /proc/stat; (0, 0) elsewhere."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except OSError:
        return 0, 0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def _tree_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) of `pid` and its descendants so far, from /proc: the Celery
    worker is a parent and a prefork child."""
    tick = os.sysconf("SC_CLK_TCK")
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            stat = Path(f"/proc/{current}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


def _settle_worker(pid: int, idle_share: float = 0.2, limit_seconds: float = 60.0) -> float:
    """Waits until the worker has drained what earlier workloads left it (it takes less than
    `idle_share` of a core over a second; idle, polling the filesystem broker, it takes about
    0.1), so each workload measures itself rather than the
    reconciles of the one before, for at most `limit_seconds` (50 clients of writes leave
    minutes of deletes); returns the seconds waited."""
    began = time.perf_counter()
    while time.perf_counter() - began < limit_seconds:
        before = _tree_cpu_seconds(pid)
        time.sleep(1.0)
        if _tree_cpu_seconds(pid) - before < idle_share:
            break
    return round(time.perf_counter() - began, 1)


class Recorder:
    """Latencies and statuses per route; a request sent before `measure_from` (the ramp) is kept
    apart, in `ramp_samples` and `ramp_statuses`."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.measure_from = float("inf")
        self.samples: dict[str, list[float]] = defaultdict(list)
        self.statuses: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self.ramp_samples: list[float] = []
        self.ramp_statuses: dict[int, int] = defaultdict(int)

    def timed(self, route: str, call: Callable[[], int]) -> int:
        start = time.perf_counter()
        status = call()
        elapsed = time.perf_counter() - start
        with self.lock:
            if start < self.measure_from:
                self.ramp_samples.append(elapsed)
                self.ramp_statuses[status] += 1
            else:
                self.samples[route].append(elapsed)
                self.statuses[route][status] += 1
        return status


def _percentiles_ms(samples: list[float]) -> list[float]:
    """The 1st to 99th percentiles of latencies in seconds, in milliseconds."""
    ordered = sorted(samples)
    quantiles = statistics.quantiles(ordered, n=100) if len(ordered) > 1 else ordered * 99
    return [round(q * 1000, 1) for q in quantiles]


def _writer(client: Client, tenant: str, prefix: str, model: int):
    counter = iter(range(10**9))

    def step(recorder: Recorder) -> None:
        name = f"{prefix}-{next(counter)}"
        collection = f"/api/v1/tenants/{tenant}/endpoints/"
        body = {"name": name, "model_version": model, "scaling": {"max_replicas": 2}}
        created = recorder.timed("POST endpoint", lambda: client.request("POST", collection, body))
        if created != 201:
            return
        item = f"{collection}{name}/"
        patch = {"scaling": {"max_replicas": 1}}
        recorder.timed("PATCH endpoint", lambda: client.request("PATCH", item, patch))
        recorder.timed("DELETE endpoint", lambda: client.request("DELETE", item))

    return step


def _reader(client: Client):
    routes = [
        ("GET endpoints", f"/api/v1/tenants/{HOT_TENANT}/endpoints/"),
        ("GET endpoint", f"/api/v1/tenants/{HOT_TENANT}/endpoints/seed0/"),
        ("GET audit-events", f"/api/v1/audit-events/?tenant={HOT_TENANT}&page_size=50"),
    ]

    def step(recorder: Recorder) -> None:
        for route, path in routes:
            recorder.timed(route, lambda path=path: client.request("GET", path))

    return step


def _run(
    workload: str,
    clients: int,
    seconds: float,
    warmup: float,
    port: int,
    key: str,
    model: int,
    worker: int,
) -> dict:
    settled = _settle_worker(worker)
    recorder, stop = Recorder(), threading.Event()
    start = threading.Barrier(clients + 1)

    def client(index: int) -> None:
        connection = Client(port, key)
        prefix = f"c{clients}-{index}-{workload[:3]}"
        if workload == "reads":
            step = _reader(connection)
        else:
            tenant = HOT_TENANT if workload == "one-tenant writes" else f"bench-{index:05d}"
            step = _writer(connection, tenant, prefix, model)
        start.wait()
        try:
            while not stop.is_set():
                step(recorder)
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    recorder.measure_from = time.perf_counter() + warmup
    time.sleep(warmup)
    began, cpu_began, busy_began = time.perf_counter(), time.process_time(), _machine_busy()
    worker_began = _tree_cpu_seconds(worker)
    load_began = os.getloadavg()[0]
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    client_cpu = time.process_time() - cpu_began
    worker_cpu = _tree_cpu_seconds(worker) - worker_began
    busy_ended = _machine_busy()
    busy, total = (busy_ended[0] - busy_began[0]), (busy_ended[1] - busy_began[1])
    routes = {}
    for route, samples in sorted(recorder.samples.items()):
        quantiles = _percentiles_ms(samples)
        routes[route] = {
            "requests": len(samples),
            "per_second": round(len(samples) / elapsed, 1),
            "p50_ms": quantiles[49],
            "p95_ms": quantiles[94],
            "p99_ms": quantiles[98],
            "statuses": dict(sorted(recorder.statuses[route].items())),
        }
    requests = sum(len(samples) for samples in recorder.samples.values())
    errors = sum(
        count
        for statuses in recorder.statuses.values()
        for status, count in statuses.items()
        if status >= 500
    )
    ramp_errors = sum(count for status, count in recorder.ramp_statuses.items() if status >= 500)
    cores = os.cpu_count() or 1
    return {
        "workload": workload,
        "clients": clients,
        "seconds": round(elapsed, 1),
        "requests_per_second": round(requests / elapsed, 1),
        "server_errors": errors + ramp_errors,
        "ramp": {
            "seconds": warmup,
            "requests": len(recorder.ramp_samples),
            "p99_ms": _percentiles_ms(recorder.ramp_samples)[98] if recorder.ramp_samples else None,
            "server_errors": ramp_errors,
        },
        # Of all the machine's cores: what the clients took, and what everything took (the
        # server, the clients, and whatever else runs on the machine).
        "client_cpu_percent": round(100 * client_cpu / (elapsed * cores), 1),
        # The reconciles the workload's own writes cause, beside it, as in production.
        "worker_cpu_percent": round(100 * worker_cpu / (elapsed * cores), 1),
        "worker_settled_seconds": settled,
        "machine_busy_percent": round(100 * busy / total, 1) if total else None,
        "load_average_1m": [round(load_began, 2), round(os.getloadavg()[0], 2)],
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
            f"{result['requests_per_second']:>7}   5xx: {result['server_errors']}  "
            f"client CPU {result['client_cpu_percent']} %, worker CPU "
            f"{result['worker_cpu_percent']} % (settled {result['worker_settled_seconds']} s "
            f"before), machine busy "
            f"{result['machine_busy_percent']} %, load {result['load_average_1m']}"
        )
        ramp = result["ramp"]
        print(
            f"{result['workload']:<18} {result['clients']:>7} {'(ramp, apart)':<17} "
            f"first {ramp['seconds']} s: {ramp['requests']} requests, p99 {ramp['p99_ms']} ms, "
            f"5xx: {ramp['server_errors']}"
        )
    print(json.dumps(results, sort_keys=True))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="1,10,50", help="comma-separated client counts")
    parser.add_argument("--seconds", type=float, default=10.0, help="per workload and count")
    parser.add_argument("--tenants", type=int, default=200)
    parser.add_argument(
        "--workloads",
        default=",".join(WORKLOADS),
        help=f"comma-separated, of: {', '.join(WORKLOADS)}",
    )
    parser.add_argument("--workers", type=int, help="gunicorn workers (GUNICORN_WORKERS)")
    parser.add_argument("--threads", type=int, help="threads per worker (GUNICORN_THREADS)")
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="seconds of ramp per workload, reported apart"
    )
    args = parser.parse_args()
    counts = [int(c) for c in args.clients.split(",")]
    workloads = args.workloads.split(",")
    if unknown := set(workloads) - set(WORKLOADS):
        parser.error(f"unknown workloads: {', '.join(sorted(unknown))}")
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
            # As in the image: every gunicorn worker writes its metrics here.
            "PROMETHEUS_MULTIPROC_DIR": str(workdir / "prometheus"),
        }
        for name, value in (("GUNICORN_WORKERS", args.workers), ("GUNICORN_THREADS", args.threads)):
            if value is not None:
                env[name] = str(value)
        (workdir / "prometheus").mkdir()
        os.environ.update(env)
        seeded = _seed(args.tenants)
        port = _free_port()
        worker = stack.enter_context(_worker(env, workdir))
        stack.enter_context(_gunicorn(env, port, workdir))
        print(f"machine: {os.cpu_count()} cores; load average before: {os.getloadavg()}")
        results = [
            _run(
                workload,
                clients,
                args.seconds,
                args.warmup,
                port,
                seeded["key"],
                seeded["model_version"],
                worker,
            )
            for workload in workloads
            for clients in counts
        ]
    print_report(results)
    if any(result["server_errors"] for result in results):
        print("FAIL: some requests answered 5xx", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
