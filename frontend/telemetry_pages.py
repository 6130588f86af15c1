"""Live charts of an endpoint (TTFT p95, queue, replicas, request rate) as an htmx fragment the
endpoint page refreshes; drawn as inline SVG on the server, so nothing loads from elsewhere."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from frontend.console import actor_of, visible_endpoint
from scaling import promql
from scaling.telemetry import Series, TelemetryUnavailable, live_series

WIDTH, HEIGHT = 300, 60
MINUTES = 30


def sparkline(series: Series) -> dict:
    """SVG polyline points and the latest and highest values of one series."""
    values = [value for _, value in series.points]
    top = max(values, default=0.0) or 1.0
    span = MINUTES * 60
    points = " ".join(
        f"{WIDTH * t / span:.1f},{HEIGHT - HEIGHT * v / top:.1f}" for t, v in series.points
    )
    return {
        "title": series.title,
        "unit": series.unit,
        "points": points,
        "latest": values[-1] if values else None,
        "highest": max(values, default=None),
        "query": series.query,
    }


@login_required
def endpoint_telemetry(request: HttpRequest, slug: str, name: str) -> HttpResponse:
    actor = actor_of(request)
    tenant, endpoint = visible_endpoint(actor, slug, name)
    context: dict = {"width": WIDTH, "height": HEIGHT, "minutes": MINUTES}
    try:
        series = live_series(
            promql.EndpointTarget(namespace=tenant.namespace, endpoint=endpoint.name),
            end=timezone.now(),
            minutes=MINUTES,
        )
        context["charts"] = [sparkline(s) for s in series]
    except TelemetryUnavailable as error:
        context["unavailable"] = str(error)
    return render(request, "frontend/telemetry.html", context)
