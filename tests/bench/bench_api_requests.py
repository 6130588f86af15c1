"""What one API request costs, in process: queries, the database's time, and CPU per route.

    .venv/bin/python tests/bench/bench_api_requests.py [--repeat 200] [--tenants 20]

Starts its own PostgreSQL (tests/servers.py), seeds tenants as tests/bench/bench_api.py does
(3 endpoints each) and calls each read route, then one endpoint create, scaling change and
delete in one tenant, through Django's test client with the bench's API key, one at a time:
no HTTP server and no concurrency, so the figures say what the code costs and move much less
with the machine's load than throughput does. Per route: the number of queries, the time
PostgreSQL took for them (as seen by the client), and this process's CPU per request (the view,
the ORM compiling its SQL, serialising). For the writes, also the queries run while the
tenant's admission lock is held (from the tenant's `SELECT ... FOR [NO KEY] UPDATE` to the
last query).
Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

TENANT_LOCK = re.compile(r"FOR (NO KEY )?UPDATE")
READS = [
    "/api/v1/tenants/bench-00000/endpoints/",
    "/api/v1/tenants/bench-00000/endpoints/seed0/",
    "/api/v1/audit-events/?tenant=bench-00000&page_size=50",
    "/api/v1/tenants/",
    "/api/v1/tenants/bench-00000/",
    "/api/v1/tenants/bench-00000/quota/",
]


class Queries:
    """Every query of the requests it watches: (start, seconds, sql)."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, float, str]] = []

    def __call__(self, execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seen.append((start, time.perf_counter() - start, sql))

    def under_tenant_lock(self) -> int:
        starts = [
            i
            for i, (_, _, sql) in enumerate(self.seen)
            if TENANT_LOCK.search(sql) and sql.startswith('SELECT "tenants_tenant"')
        ]
        return len(self.seen) - starts[0] if starts else 0


def _measure(call, repeat: int) -> dict:
    from django.db import connection

    call()  # warm: first use of the key, caches
    queries = Queries()
    with connection.execute_wrapper(queries):
        status = call()
    cpu = time.process_time()
    for _ in range(repeat):
        call()
    return {
        "status": status,
        "queries": len(queries.seen),
        "under_tenant_lock": queries.under_tenant_lock(),
        "db_ms": round(sum(seconds for _, seconds, _ in queries.seen) * 1000, 2),
        "cpu_ms": round((time.process_time() - cpu) / repeat * 1000, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=200, help="requests per route timed")
    parser.add_argument("--tenants", type=int, default=20)
    args = parser.parse_args()

    from tests.bench.bench_api import _seed
    from tests.servers import postgres_server

    with tempfile.TemporaryDirectory(prefix="bench-requests-") as tmp, postgres_server() as url:
        os.environ.update(
            {
                "DJANGO_SETTINGS_MODULE": "control_plane.settings",
                "SECRET_KEY": "bench-api-secret-key-not-for-production",
                "DATABASE_URL": url,
                "RUN_DIR": str(Path(tmp) / "run"),
                "CLUSTER_DIRECTORY": str(Path(tmp) / "manifests"),
                "LOG_LEVEL": "WARNING",
                "ALLOWED_HOSTS": "testserver",
            }
        )
        seeded = _seed(args.tenants)
        from django.test import Client

        client = Client(HTTP_AUTHORIZATION=f"Bearer {seeded['key']}")
        results = {}
        for path in READS:
            results[f"GET {path}"] = _measure(
                lambda path=path: client.get(path).status_code, args.repeat
            )
        collection = "/api/v1/tenants/bench-00000/endpoints/"
        counter = iter(range(10**9))
        # Writes: each measured call creates, changes or deletes its own endpoint.
        names: list[str] = []

        def create() -> int:
            names.append(f"w{next(counter)}")
            body = {
                "name": names[-1],
                "model_version": seeded["model_version"],
                "scaling": {"max_replicas": 2},
            }
            return client.post(collection, body, content_type="application/json").status_code

        writes = max(args.repeat // 4, 1)
        results["POST endpoint"] = _measure(create, writes)
        targets = iter(list(names))

        def patch() -> int:
            item = f"{collection}{next(targets)}/"
            body = {"scaling": {"max_replicas": 1}}
            return client.patch(item, body, content_type="application/json").status_code

        results["PATCH endpoint (lower)"] = _measure(patch, writes)
        targets = iter(list(names))

        def delete() -> int:
            return client.delete(f"{collection}{next(targets)}/").status_code

        results["DELETE endpoint"] = _measure(delete, writes)

    print(f"{'route':<58} {'status':>6} {'queries':>7} {'locked':>6} {'db ms':>7} {'cpu ms':>7}")
    for route, r in results.items():
        print(
            f"{route:<58} {r['status']:>6} {r['queries']:>7} {r['under_tenant_lock']:>6} "
            f"{r['db_ms']:>7} {r['cpu_ms']:>7}"
        )
    print(json.dumps(results, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
