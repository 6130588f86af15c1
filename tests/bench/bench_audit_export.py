"""Audit export benchmark: rows/s and peak memory of CSV and JSON Lines exports through the API
and the command, next to PostgreSQL's own `COPY ... TO STDOUT` of the same rows; verification
rows/s.

    .venv/bin/python tests/bench/bench_audit_export.py [--events 1000000] [--chains 50]

Starts its own PostgreSQL (tests/servers.py), fills it with `--events` hash-chained events over
`--chains` tenant chains (hashed in Python, loaded with COPY FROM), then measures, each in a
fresh process so its peak RSS is its own:
- `command`: `manage.py audit_export --format F` (file + signed manifest), and once with no
  rows (`--since` in 2100): its fixed cost;
- `api`: `GET /api/v1/audit-events/export/?format=F` from gunicorn (one sync worker), streamed
  to nowhere, then its manifest route; peak RSS is the worker's VmHWM;
- `export's COPY`: the export's own COPY statement (PostgreSQL's formatting; for JSON Lines the
  raw columns in COPY's text format), its rows read to nowhere: PostgreSQL's share of an export;
- `copy`: `COPY (SELECT the export's columns ORDER BY id) TO STDOUT WITH CSV`, read to nowhere,
  first and again last: the ratios are to the mean of the two, as other work on the machine
  comes and goes (the load averages are printed too);
- `verify`: `manage.py audit_verify --export F --manifest M` (signature, digest, every row's
  hash, chain links, Merkle root); and `audit_checkpoint` (every chain's Merkle root).
Prints a table and, last, one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests import servers  # noqa: E402

PYTHON = str(ROOT / ".venv/bin/python")


def _env(database_url: str, run_dir: Path) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "RUN_DIR": str(run_dir),
        "SECRET_KEY": "bench-secret-key-not-for-production",
        "DJANGO_SETTINGS_MODULE": "control_plane.settings",
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
    }


def _seed(events: int, chains: int) -> str:
    """Hash-chained events loaded with COPY; returns an API key of a platform admin."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from control_plane.audit.chain import event_hash
    from control_plane.audit.models import AuditChainHead
    from tenants.services import api_key_create
    from tests.factories import platform_user, principal

    _, key = api_key_create(actor=principal(platform_user("admin")), name="bench")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    heads: dict[str, tuple[int, str]] = {}
    columns = (
        "chain, sequence, occurred_at, actor_type, actor, actor_user_id, api_key_prefix, "
        "tenant_slug, action, target_type, target_id, request_id, source_address, changes, "
        "outcome, reason, prev_hash, hash"
    )
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
        with cursor.cursor.copy(f"COPY audit_auditevent ({columns}) FROM STDIN") as copy:
            for index in range(events):
                slug = f"bench-{index % chains:03d}"
                chain = f"tenant:{slug}"
                sequence, prev = heads.get(chain, (0, "0" * 64))
                fields = {
                    "chain": chain,
                    "sequence": sequence + 1,
                    "occurred_at": start + timedelta(milliseconds=index),
                    "actor_type": "user",
                    "actor": f"user{index % 97}",
                    "actor_user_id": index % 97,
                    "api_key_prefix": "",
                    "tenant_slug": slug,
                    "action": ("endpoint.update", "endpoint.create", "apikey.create")[index % 3],
                    "target_type": "endpoint",
                    "target_id": str(index % 1000),
                    "request_id": f"req-{index:012d}",
                    "source_address": "10.0.0.1",
                    "changes": {"replicas": {"before": index % 7, "after": index % 5}},
                    "outcome": "success",
                    "reason": "",
                    "prev_hash": prev,
                }
                digest = event_hash(fields)
                copy.write_row(
                    [
                        *(
                            json.dumps(value) if name == "changes" else value
                            for name, value in fields.items()
                        ),
                        digest,
                    ]
                )
                heads[chain] = (sequence + 1, digest)
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER USER")
        # VACUUM too: autovacuum would otherwise visit the freshly loaded table during the
        # first measurements (an insert threshold, PostgreSQL 13+).
        cursor.execute("VACUUM (ANALYZE) audit_auditevent")
    AuditChainHead.objects.bulk_create(
        [AuditChainHead(chain=c, sequence=s, hash=h) for c, (s, h) in heads.items()]
    )
    connection.close()
    return key


def _measured(command: list[str], env: dict) -> tuple[float, float, str]:
    """(seconds, peak RSS in MiB, stdout) of a command, run under a wrapper process whose only
    child it is, so RUSAGE_CHILDREN's peak is that command's own."""
    wrapper = (
        "import resource, subprocess, sys, time;"
        "t = time.perf_counter();"
        "p = subprocess.run(sys.argv[1:], capture_output=True);"
        "e = time.perf_counter() - t;"
        "sys.stderr.write(p.stderr.decode()[-3000:]) if p.returncode else None;"
        "print(e, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024);"
        "sys.stdout.write(p.stdout.decode());"
        "sys.exit(p.returncode)"
    )
    result = subprocess.run(
        [sys.executable, "-c", wrapper, *command], env=env, cwd=ROOT, capture_output=True
    )
    if result.returncode != 0:
        raise RuntimeError(f"{command} failed: {result.stderr.decode()[-3000:]}")
    first, _, rest = result.stdout.decode().partition("\n")
    seconds, rss = first.split()
    return float(seconds), float(rss), rest


def _copy_row(database_url: str, events: int) -> dict:
    """One timing of the ceiling, as a result row: taken first and last, the ratios go to the
    mean of the two."""
    seconds, size = _copy_rate(database_url)
    return {
        "how": "COPY TO STDOUT",
        "format": "csv",
        "seconds": seconds,
        "rows_per_s": events / seconds,
        "peak_mib": None,
        "bytes": size,
    }


def _copy_rate(database_url: str) -> tuple[float, int]:
    import psycopg

    from control_plane.audit.export import COLUMNS

    query = (
        f"COPY (SELECT {', '.join(COLUMNS)} FROM audit_auditevent ORDER BY id) "
        "TO STDOUT WITH CSV HEADER"
    )
    started, size = time.perf_counter(), 0
    with (
        psycopg.connect(database_url) as connection,
        connection.cursor() as cursor,
        cursor.copy(query) as copy,
    ):
        for chunk in copy:
            size += len(chunk)
    return time.perf_counter() - started, size


def _export_copy_seconds(export_format: str) -> float:
    """The export's own COPY statement, its rows read and dropped: PostgreSQL's share of an
    export, without Python's (joining, hashing, writing)."""
    from control_plane.audit.export import ExportSpec
    from control_plane.audit.selectors import audit_export_copy_batches
    from control_plane.auth.principal import Principal

    spec = ExportSpec(
        format=export_format, until=datetime(2100, 1, 1, tzinfo=UTC), max_event_id=2**62
    )
    started = time.perf_counter()
    for _ in audit_export_copy_batches(actor=Principal.system(), spec=spec):
        pass
    return time.perf_counter() - started


def _gunicorn(env: dict, port: int, workdir: Path) -> subprocess.Popen:
    log = open(workdir / "gunicorn.log", "wb")  # noqa: SIM115 - lives as long as the server
    process = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "control_plane.wsgi:application",
            "--workers",
            "1",
            "--timeout",
            "900",
            "--bind",
            f"127.0.0.1:{port}",
        ],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=log,
    )
    servers._wait_for_port(port, 30)
    return process


def _worker_peak_mib(master: int) -> float:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    status = Path(f"/proc/{children[0]}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--chains", type=int, default=50)
    parser.add_argument(
        "--output-dir",
        help="where the command writes its exports (default: a temporary directory); "
        "/dev/shm leaves out the disk, whose writeback of earlier files slows later ones",
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="cp-bench-audit-", dir=args.output_dir))
    results: list[dict] = []
    with servers.postgres_server() as database_url:
        env = _env(database_url, workdir / "run")
        os.environ.update({k: env[k] for k in ("DATABASE_URL", "RUN_DIR", "SECRET_KEY")})
        os.environ["DJANGO_SETTINGS_MODULE"] = "control_plane.settings"
        started = time.perf_counter()
        key = _seed(args.events, args.chains)
        print(f"seeded {args.events} events in {time.perf_counter() - started:.1f} s")
        n = args.events

        load_before = os.getloadavg()
        results.append(_copy_row(database_url, n))
        for export_format in ("csv", "jsonl"):
            seconds = _export_copy_seconds(export_format)
            results.append(
                {
                    "how": "export's COPY",
                    "format": export_format,
                    "seconds": seconds,
                    "rows_per_s": n / seconds,
                    "peak_mib": None,
                    "bytes": None,
                }
            )
        for export_format in ("csv", "jsonl"):
            output = workdir / f"export.{export_format}"
            manifest = workdir / f"manifest-{export_format}.json"
            seconds, rss, _ = _measured(
                [
                    PYTHON,
                    "manage.py",
                    "audit_export",
                    "--format",
                    export_format,
                    "--output",
                    str(output),
                    "--manifest",
                    str(manifest),
                ],
                env,
            )
            results.append(
                {
                    "how": "command",
                    "format": export_format,
                    "seconds": seconds,
                    "rows_per_s": n / seconds,
                    "peak_mib": rss,
                    "bytes": output.stat().st_size,
                }
            )
            seconds, rss, _ = _measured(
                [
                    PYTHON,
                    "manage.py",
                    "audit_verify",
                    "--export",
                    str(output),
                    "--manifest",
                    str(manifest),
                ],
                env,
            )
            results.append(
                {
                    "how": "verify",
                    "format": export_format,
                    "seconds": seconds,
                    "rows_per_s": n / seconds,
                    "peak_mib": rss,
                    "bytes": None,
                }
            )

        # What an export costs besides its rows: Python and Django starting, the pins, the
        # chain heads, signing and the audit event.
        seconds, rss, _ = _measured(
            [
                PYTHON,
                "manage.py",
                "audit_export",
                "--format",
                "jsonl",
                "--output",
                str(workdir / "empty.jsonl"),
                "--manifest",
                str(workdir / "empty-manifest.json"),
                "--since",
                "2100-01-01T00:00:00+00:00",
            ],
            env,
        )
        results.append(
            {
                "how": "command, 0 rows",
                "format": "jsonl",
                "seconds": seconds,
                "rows_per_s": None,
                "peak_mib": rss,
                "bytes": None,
            }
        )

        port = servers.free_port()
        server = _gunicorn(env, port, workdir)
        try:
            headers = {"Authorization": f"Bearer {key}"}
            for export_format in ("csv", "jsonl"):
                url = f"http://127.0.0.1:{port}/api/v1/audit-events/export/"
                started, size = time.perf_counter(), 0
                with requests.get(
                    url, params={"format": export_format}, headers=headers, stream=True, timeout=900
                ) as response:
                    response.raise_for_status()
                    for chunk in response.iter_content(1 << 16):
                        size += len(chunk)
                    link = response.headers["Link"].split(";")[0].strip("<>")
                seconds = time.perf_counter() - started
                results.append(
                    {
                        "how": "api",
                        "format": export_format,
                        "seconds": seconds,
                        "rows_per_s": n / seconds,
                        "peak_mib": _worker_peak_mib(server.pid),
                        "bytes": size,
                    }
                )
                started = time.perf_counter()
                manifest = requests.get(
                    f"http://127.0.0.1:{port}{link}", headers=headers, timeout=900
                ).json()
                # n, and the few platform events (the key, earlier exports) beside them.
                assert manifest["row_count"] >= n, manifest
                seconds = time.perf_counter() - started
                results.append(
                    {
                        "how": "api manifest",
                        "format": export_format,
                        "seconds": seconds,
                        "rows_per_s": n / seconds,
                        "peak_mib": _worker_peak_mib(server.pid),
                        "bytes": None,
                    }
                )
        finally:
            server.terminate()
            server.wait()
        seconds, rss, _ = _measured([PYTHON, "manage.py", "audit_checkpoint"], env)
        results.append(
            {
                "how": "checkpoint",
                "format": "-",
                "seconds": seconds,
                "rows_per_s": n / seconds,
                "peak_mib": rss,
                "bytes": None,
            }
        )
        results.append(_copy_row(database_url, n))
        load_after = os.getloadavg()
    shutil.rmtree(workdir, ignore_errors=True)

    copy_rate = (results[0]["rows_per_s"] + results[-1]["rows_per_s"]) / 2
    print(f"\n{n} events, {args.chains} chains, {os.cpu_count()} CPUs")
    print(f"load average before {load_before}, after {load_after}")
    print(f"{'how':<16}{'format':<8}{'seconds':>9}{'rows/s':>11}{'vs COPY':>9}{'peak MiB':>10}")
    for row in results:
        peak = f"{row['peak_mib']:.0f}" if row["peak_mib"] is not None else "-"
        rate, ratio = "-", "-"
        if row["rows_per_s"] is not None:
            rate, ratio = f"{row['rows_per_s']:,.0f}", f"{row['rows_per_s'] / copy_rate:.2f}"
        print(
            f"{row['how']:<16}{row['format']:<8}{row['seconds']:>9.2f}"
            f"{rate:>11}{ratio:>9}{peak:>10}"
        )
    print(
        json.dumps(
            {
                "events": n,
                "chains": args.chains,
                "load_before": load_before,
                "load_after": load_after,
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    main()
