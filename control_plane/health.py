"""Probes: `/healthz` (the process answers) and `/readyz` (it can do its job).

Liveness touches nothing outside the process: a database outage must not make the kubelet
restart every web pod at once, which would not bring the database back. Readiness checks what
a request needs (the database answers, every migration is applied, the broker takes a
connection) and names what failed, so `kubectl describe pod` says why a pod gets no traffic.

`ProbeMiddleware` answers these paths (and `/metrics`) before host validation and the HTTPS
redirect: the kubelet and Prometheus address a pod by its IP, which is not in ALLOWED_HOSTS, and
probe over plain HTTP.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse

from control_plane.celery import app as celery_app
from control_plane.metrics import metrics_view

OK = "ok"


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": OK})


def readyz(request: HttpRequest) -> JsonResponse:
    checks = readiness_checks()
    ready = all(result == OK for result in checks.values())
    body = {"status": "ready" if ready else "not ready", "checks": checks}
    if not ready:
        body["failed"] = sorted(name for name, result in checks.items() if result != OK)
    return JsonResponse(body, status=200 if ready else 503)


def readiness_checks() -> dict[str, str]:
    """Each check's result: "ok" or what is wrong."""
    database = _database()
    return {
        "database": database,
        "migrations": _migrations() if database == OK else "not checked: no database",
        "broker": _broker(),
    }


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as error:
        # A broken connection stays broken for the rest of the request otherwise.
        connection.close_if_unusable_or_obsolete()
        return f"unreachable: {_first_line(error)}"
    return OK


def _migrations() -> str:
    try:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as error:
        return f"cannot read the migration history: {_first_line(error)}"
    if plan:
        names = [f"{migration.app_label}.{migration.name}" for migration, _ in plan]
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        return f"{len(names)} unapplied: {shown}"
    return OK


def _broker() -> str:
    timeout = float(settings.READINESS_TIMEOUT_SECONDS)
    try:
        with celery_app.connection_for_read(connect_timeout=timeout) as broker:
            broker.ensure_connection(max_retries=1, timeout=timeout)
    except Exception as error:  # kombu raises the transport's own errors (redis, OSError, ...)
        return f"unreachable: {_first_line(error)}"
    return OK


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:300]


class ProbeMiddleware:
    """First in MIDDLEWARE: probe and scrape paths skip host checks, redirects and sessions."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        view = INTERNAL_VIEWS.get(request.path_info)
        if view is not None and request.method in ("GET", "HEAD"):
            return view(request)
        return self.get_response(request)


INTERNAL_VIEWS: dict[str, Callable[[HttpRequest], HttpResponse]] = {
    "/healthz": healthz,
    "/readyz": readyz,
    "/metrics": metrics_view,
}
