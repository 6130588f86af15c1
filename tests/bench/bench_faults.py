"""Fault benchmark: a worker killed mid-reconcile under load, then restarted.

    .venv/bin/python tests/bench/bench_faults.py [--tenants 200] [--endpoints-per-tenant 3]
        [--resync-seconds 5] [--lease-seconds 45] [--kill-after 0.3]

Starts its own PostgreSQL and Redis (tests/servers.py), creates the tenants and endpoints through
the services (each change queues a reconcile on Redis, as the API does), starts a real Celery
worker (prefork, 2 processes, the directory backend) and runs the resync every
`--resync-seconds` in this process, as beat would. Once `--kill-after` of the objects have
converged it kills the worker with SIGKILL, waits one resync interval, starts a new one, and
follows the queue until every object has converged (observed generation = generation, no lease
held). Prints the peak queue length, the object count and the times: until the new worker has
drained the backlog it found (its own pace), and from then to convergence (the recovery
proper). Exits 1 if the queue ever held more messages than there are objects, or recovery after
the drain took longer than two resync intervals plus the lease.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

QUEUE = "celery"


def _seed(tenants: int, per_tenant: int) -> int:
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    from endpoints.services import model_version_create
    from tenants.services import QuotaValues, tenant_create
    from tests.factories import system
    from tests.world import gpu_model_spec, make_endpoint

    quota = QuotaValues(
        gpus=per_tenant * 2,
        max_endpoints=per_tenant,
        cpu_millicores=per_tenant * 16_000,
        memory_bytes=per_tenant * 128 * 2**30,
    )
    version = model_version_create(actor=system(), tenant=None, spec=gpu_model_spec())
    for i in range(tenants):
        tenant = tenant_create(actor=system(), slug=f"f-{i:05d}", display_name="f", quota=quota)
        for j in range(per_tenant):
            make_endpoint(tenant, f"ep{j}", version)
    return tenants * (1 + per_tenant)


def _unconverged() -> int:
    from django.db.models import F, Q

    from endpoints.models import Endpoint
    from tenants.models import Tenant

    lagging = Q(observed_generation__lt=F("generation")) | Q(reconcile_lease_until__isnull=False)
    return Tenant.objects.filter(lagging).count() + Endpoint.objects.filter(lagging).count()


def _worker(env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            str(ROOT / ".venv/bin/celery"),
            "-A",
            "control_plane",
            "worker",
            "--concurrency",
            "2",
            "--loglevel",
            "WARNING",
            "--without-mingle",
            "--without-gossip",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def run(args: argparse.Namespace, workdir: Path, database_url: str, redis_url: str) -> dict:
    import redis

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "control_plane.settings",
        "SECRET_KEY": "bench-faults-secret-key-not-for-production",
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": redis_url,
        "CLUSTER_BACKEND": "directory",
        "CLUSTER_DIRECTORY": str(workdir / "manifests"),
        "RUN_DIR": str(workdir / "run"),
        "RESYNC_INTERVAL_SECONDS": str(args.resync_seconds),
        "RECONCILE_LEASE_SECONDS": str(args.lease_seconds),
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    objects = _seed(args.tenants, args.endpoints_per_tenant)

    from control_plane.resync import resync

    broker = redis.Redis.from_url(redis_url)
    log = workdir / "worker.log"
    samples: list[tuple[float, int, int]] = []
    start = time.monotonic()
    worker = _worker(env, log)
    killed_at = restarted_at = drained_at = converged_at = None
    next_resync = start
    deadline = start + args.timeout
    while time.monotonic() < deadline:
        now = time.monotonic()
        if now >= next_resync:
            resync()
            next_resync = now + args.resync_seconds
        queued, lagging = broker.llen(QUEUE), _unconverged()
        samples.append((now - start, queued, lagging))
        if killed_at is None and lagging <= objects * (1 - args.kill_after):
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
            killed_at = now
        elif (
            killed_at is not None
            and restarted_at is None
            and now - killed_at >= args.resync_seconds
        ):
            worker = _worker(env, log)
            restarted_at = now
        elif restarted_at is not None:
            if drained_at is None and queued == 0:
                drained_at = now
            if lagging == 0 and queued == 0:
                converged_at = now
                break
        time.sleep(0.5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(worker.pid, signal.SIGTERM)
    worker.wait(timeout=60)
    from django.db import connections

    connections.close_all()
    return {
        "objects": objects,
        "peak_queue": max(q for _, q, _ in samples),
        "killed_at_s": round(killed_at - start, 1) if killed_at else None,
        "restarted_at_s": round(restarted_at - start, 1) if restarted_at else None,
        "converged_at_s": round(converged_at - start, 1) if converged_at else None,
        "convergence_after_restart_s": (
            round(converged_at - restarted_at, 1) if converged_at and restarted_at else None
        ),
        # The backlog the new worker found, worked off at its own pace; what is left after is
        # the recovery proper (leases of the killed worker, messages it took with it).
        "backlog_drained_after_restart_s": (
            round(drained_at - restarted_at, 1) if drained_at and restarted_at else None
        ),
        "convergence_after_drain_s": (
            round(converged_at - drained_at, 1) if converged_at and drained_at else None
        ),
        "reconciles_per_second_before_kill": round(
            (objects - next(lag for t, _, lag in samples if t >= killed_at - start))
            / (killed_at - start),
            1,
        )
        if killed_at
        else None,
        "budget_after_drain_s": 2 * args.resync_seconds + args.lease_seconds,
        "resync_seconds": args.resync_seconds,
        "lease_seconds": args.lease_seconds,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=200)
    parser.add_argument("--endpoints-per-tenant", type=int, default=3)
    parser.add_argument("--resync-seconds", type=int, default=5)
    parser.add_argument("--lease-seconds", type=int, default=45)
    parser.add_argument("--kill-after", type=float, default=0.3, help="converged share")
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    from tests.servers import postgres_server, redis_server

    with (
        tempfile.TemporaryDirectory(prefix="bench-faults-") as tmp,
        postgres_server() as database_url,
        redis_server() as redis_url,
    ):
        result = run(args, Path(tmp), database_url, redis_url)
    for name, value in result.items():
        print(f"{name:<28} {value}")
    print(json.dumps(result, sort_keys=True))
    failed = []
    if result["peak_queue"] > result["objects"]:
        failed.append("the queue held more messages than there are objects")
    after = result["convergence_after_drain_s"]
    if after is None or after > result["budget_after_drain_s"]:
        failed.append(
            "convergence after the backlog drained took longer than two resync intervals "
            "plus the lease"
        )
    for reason in failed:
        print(f"FAIL: {reason}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
