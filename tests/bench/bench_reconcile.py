"""Reconcile benchmark: N tenants with M endpoints each against the fake Kubernetes API server.

    .venv/bin/python tests/bench/bench_reconcile.py [--tenants N] [--endpoints-per-tenant M]

Creating the rows is setup and is timed apart. The measured passes run sequentially in this
process: a first reconcile of every tenant, then of every endpoint (objects applied per second,
API requests per object), then a no-op resync of all of them, which must send no write.
Prints a table and, last, one JSON line; exits 1 if the resync wrote anything.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def _create_rows(tenants: int, per_tenant: int) -> tuple[list[int], list[int]]:
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
    tenant_ids, endpoint_ids = [], []
    for i in range(tenants):
        slug = f"bench-{i:05d}"
        tenant = tenant_create(actor=system(), slug=slug, display_name=slug, quota=quota)
        tenant_ids.append(tenant.pk)
        for j in range(per_tenant):
            endpoint_ids.append(make_endpoint(tenant, f"ep{j}", version).pk)
    return tenant_ids, endpoint_ids


def _reconcile_all(tenant_ids: list[int], endpoint_ids: list[int], backend) -> Counter:
    from endpoints.reconciler import reconcile_endpoint
    from tenants.reconciler import reconcile_tenant

    outcomes: Counter = Counter()
    for pk in tenant_ids:
        outcomes[f"tenant {reconcile_tenant(pk, backend=backend)}"] += 1
    for pk in endpoint_ids:
        outcomes[f"endpoint {reconcile_endpoint(pk, backend=backend)}"] += 1
    return outcomes


def _rendered_objects(tenant_ids: list[int], endpoint_ids: list[int]) -> int:
    from django.conf import settings

    from control_plane.render_context import RenderContext
    from endpoints.models import Endpoint
    from endpoints.reconciler import _load, desired_objects
    from tenants.manifests import tenant_objects
    from tenants.models import Tenant

    context = RenderContext.from_settings(settings)
    tenants = Tenant.objects.filter(pk__in=tenant_ids)
    count = sum(len(tenant_objects(t, context)) for t in tenants)
    assert Endpoint.objects.filter(pk__in=endpoint_ids).count() == len(endpoint_ids)
    return count + sum(len(desired_objects(_load(pk), context)) for pk in endpoint_ids)


def _measure(server, tenant_ids, endpoint_ids, backend) -> dict:
    server.reset_log()
    start = time.perf_counter()
    outcomes = _reconcile_all(tenant_ids, endpoint_ids, backend)
    seconds = time.perf_counter() - start
    log = server.requests()
    return {
        "seconds": seconds,
        "requests": len(log),
        "writes": server.write_count(),
        # Server-side apply and POST answer 201 when they created the object.
        "created": sum(1 for r in log if r.verb in ("apply", "create") and r.status == 201),
        "by_verb": dict(sorted(Counter(r.verb for r in log).items())),
        "errors": sum(1 for r in log if r.status >= 400 and r.verb != "get"),
        "outcomes": dict(sorted(outcomes.items())),
    }


def run(tenants: int, per_tenant: int, workdir: Path) -> dict:
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)

    from control_plane.cluster.kubernetes_backend import KubernetesBackend
    from tests.fakes.kube_apiserver import FakeKubeApiServer, platform_namespaces

    start = time.perf_counter()
    tenant_ids, endpoint_ids = _create_rows(tenants, per_tenant)
    setup_seconds = time.perf_counter() - start

    with FakeKubeApiServer() as server:
        backend = KubernetesBackend(
            server.api_client(),
            sleep=lambda seconds: None,
            rng=random.Random(7),
            discovery_cache_file=str(workdir / "discovery.json"),
        )
        backend.apply(platform_namespaces())
        first = _measure(server, tenant_ids, endpoint_ids, backend)
        resync = _measure(server, tenant_ids, endpoint_ids, backend)
    rendered = _rendered_objects(tenant_ids, endpoint_ids)
    objects = first["created"]
    return {
        "tenants": tenants,
        "endpoints_per_tenant": per_tenant,
        "endpoints": len(endpoint_ids),
        "setup_seconds": round(setup_seconds, 2),
        "objects_rendered": rendered,
        "objects_created": objects,
        "first_seconds": round(first["seconds"], 2),
        "objects_per_second": round(objects / first["seconds"], 1),
        "first_requests": first["requests"],
        "requests_per_object": round(first["requests"] / objects, 2),
        "writes_per_object": round(first["writes"] / objects, 2),
        "first_by_verb": first["by_verb"],
        "first_outcomes": first["outcomes"],
        "resync_seconds": round(resync["seconds"], 2),
        "resync_requests": resync["requests"],
        "resync_requests_per_object": round(resync["requests"] / objects, 2),
        "resync_writes": resync["writes"],
        "resync_by_verb": resync["by_verb"],
        "resync_outcomes": resync["outcomes"],
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def print_report(r: dict) -> None:
    rows = [
        ("tenants x endpoints", f"{r['tenants']} x {r['endpoints_per_tenant']}"),
        ("setup (DB rows, not counted)", f"{r['setup_seconds']:.2f} s"),
        ("objects rendered / created", f"{r['objects_rendered']} / {r['objects_created']}"),
        ("first pass", f"{r['first_seconds']:.2f} s"),
        ("objects applied per second", f"{r['objects_per_second']:.1f}"),
        ("API requests (first pass)", str(r["first_requests"])),
        ("API requests per object", f"{r['requests_per_object']:.2f}"),
        ("writes per object", f"{r['writes_per_object']:.2f}"),
        ("first pass by verb", json.dumps(r["first_by_verb"])),
        ("first pass outcomes", json.dumps(r["first_outcomes"])),
        ("no-op resync", f"{r['resync_seconds']:.2f} s"),
        ("resync API requests", f"{r['resync_requests']} ({r['resync_requests_per_object']}/obj)"),
        ("resync writes (must be 0)", str(r["resync_writes"])),
        ("resync outcomes", json.dumps(r["resync_outcomes"])),
        ("peak RSS", f"{r['peak_rss_mib']:.1f} MiB"),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print(json.dumps(r, sort_keys=True))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--endpoints-per-tenant", type=int, default=3)
    parser.add_argument("--sqlite", action="store_true", help="a temporary SQLite file, not PG")
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory(prefix="bench-reconcile-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        workdir = Path(tmp)
        os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
        os.environ["RUN_DIR"] = str(workdir / "run")  # the filesystem broker's queued tasks
        if args.sqlite:
            os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
        else:
            from tests.servers import postgres_server

            os.environ["DATABASE_URL"] = stack.enter_context(postgres_server())
        result = run(args.tenants, args.endpoints_per_tenant, workdir)
        from django.db import connections

        connections.close_all()
    print_report(result)
    if result["resync_writes"] != 0:
        print(f"FAIL: the no-op resync sent {result['resync_writes']} writes", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
