"""The control plane's own Prometheus metrics, served at `/metrics` (and by each Celery worker on
CELERY_METRICS_PORT).

Two kinds:
- Observed in the process that does the work: request latency and server errors per route (the
  middleware below, in the web), reconcile outcomes and durations per kind (declared by the
  kernel's control_plane/reconcile_driver.py, in the workers). gunicorn and Celery's prefork
  pool run several processes per pod, so with PROMETHEUS_MULTIPROC_DIR set every process writes
  its samples to files there and a scrape sums them (prometheus_client's multiprocess mode);
  without it (tests, one process) the process's own registry is served.
- Computed from the database and the broker at scrape time, in the web only: queue depth, audit
  chain length, rollouts per state and rollout transitions. They are the same whichever pod
  answers, so no process has to keep them.

No authentication, like every exporter: keep `/metrics` cluster-internal (the chart's Ingress
and HTTPRoute do not route it, docs/deploy.md).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator

from celery.signals import worker_ready
from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count, Min
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client import Counter as CounterMetric
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from control_plane.audit.models import AuditChainHead, AuditEvent
from control_plane.scheduling import queued_message_count
from endpoints.models import Rollout

logger = logging.getLogger(__name__)

QUEUES = ("celery", "provisioning", "analysis")
ACTIVE_ROLLOUT_STATES = (Rollout.State.PENDING, Rollout.State.PROGRESSING, Rollout.State.PAUSED)

REQUEST_DURATION = Histogram(
    "control_plane_http_request_duration_seconds",
    "Time to answer an HTTP request, by route (the URL pattern's name) and method.",
    ["route", "method"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
REQUEST_ERRORS = CounterMetric(
    "control_plane_http_request_errors",
    "HTTP requests answered with a 5xx status, by route, method and status.",
    ["route", "method", "status"],
)


def route_of(request: HttpRequest) -> str:
    """The URL pattern's name: bounded, unlike the path (ids, slugs)."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        # WhiteNoise answers static files before URL resolution.
        return "static" if request.path.startswith(settings.STATIC_URL) else "unresolved"
    return match.view_name or match.route or "unnamed"


class RequestMetricsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        route, method = route_of(request), request.method or "UNKNOWN"
        REQUEST_DURATION.labels(route=route, method=method).observe(time.perf_counter() - started)
        if response.status_code >= 500:
            REQUEST_ERRORS.labels(
                route=route, method=method, status=str(response.status_code)
            ).inc()
        return response


class StateCollector:
    """What the database and the broker say at scrape time. A source that fails is reported in
    `control_plane_metrics_source_up` instead of failing the whole scrape."""

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "control_plane_metrics_source_up",
            "Whether a scrape-time source answered (1) or not (0).",
            labels=["source"],
        )
        for source, produce in (("broker", self._queues), ("database", self._database)):
            try:
                metrics = list(produce())
            except (DatabaseError, OSError) as error:
                logger.warning("metrics source %s failed: %s", source, error)
                up.add_metric([source], 0)
                continue
            up.add_metric([source], 1 if metrics else 0)
            yield from metrics
        yield up

    def _queues(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "control_plane_celery_queue_messages",
            "Messages waiting in a Celery queue.",
            labels=["queue"],
        )
        answered = False
        for queue in QUEUES:
            count = queued_message_count(queue)
            if count is not None:
                answered = True
                depth.add_metric([queue], count)
        if answered:
            yield depth

    def _database(self) -> Iterator[Metric]:
        chains = GaugeMetricFamily(
            "control_plane_audit_chain_length",
            "Events in an audit hash chain (its head's sequence).",
            labels=["chain"],
        )
        for chain, sequence in AuditChainHead.objects.values_list("chain", "sequence"):
            chains.add_metric([chain], sequence)
        transitions = CounterMetricFamily(
            "control_plane_rollout_transitions",
            "Rollout transitions, counted from the audit trail (actions rollout.*).",
            labels=["action", "outcome"],
        )
        rows = (
            AuditEvent.objects.filter(action__startswith="rollout.")
            .order_by()
            .values_list("action", "outcome")
            .annotate(events=Count("id"))
        )
        for action, outcome, events in rows:
            transitions.add_metric([action, outcome], events)
        by_state = GaugeMetricFamily(
            "control_plane_rollouts", "Rollouts by state.", labels=["state"]
        )
        counts = dict(
            Rollout.objects.order_by().values_list("state").annotate(rollouts=Count("id"))
        )
        for state in Rollout.State.values:
            by_state.add_metric([state], counts.get(state, 0))
        idle = GaugeMetricFamily(
            "control_plane_rollout_idle_seconds",
            "Seconds since the least recently updated unfinished rollout of a state was last "
            "written (a rollout that stops moving shows here).",
            labels=["state"],
        )
        oldest = dict(
            Rollout.objects.filter(state__in=ACTIVE_ROLLOUT_STATES)
            .order_by()
            .values_list("state")
            .annotate(oldest=Min("updated_at"))
        )
        now = timezone.now()
        for state in ACTIVE_ROLLOUT_STATES:
            seconds = (now - oldest[state]).total_seconds() if state in oldest else 0
            idle.add_metric([state], seconds)
        yield from (chains, transitions, by_state, idle)


def process_registry() -> CollectorRegistry:
    """The samples observed by this pod's processes: summed over the multiprocess directory when
    there is one, else this process's own."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def metrics_view(request: HttpRequest) -> HttpResponse:
    registry = CollectorRegistry()
    registry.register(process_registry())
    registry.register(StateCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


@worker_ready.connect
def serve_worker_metrics(**_kwargs: object) -> None:
    """A Celery worker's reconcile metrics, on their own port: the worker has no web server."""
    port = settings.CELERY_METRICS_PORT
    if port:
        start_http_server(port, registry=process_registry())
        logger.info("worker metrics on port %s", port)
