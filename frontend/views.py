"""The console's pages. They read through selectors, exactly like the API."""

from __future__ import annotations

import base64
import io
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone

from control_plane.audit.models import AuditEvent
from control_plane.errors import NotFound
from endpoints.models import Endpoint, Rollout
from endpoints.selectors import endpoint_for
from frontend.console import actor_of, error_page
from frontend.forms import ScalingComparisonForm
from scaling.comparison import (
    MAX_INTERACTIVE_REQUESTS,
    TooManyRequests,
    compare,
    compare_endpoint_traffic,
    with_presets,
)
from scaling.simulator.engine import SimConfig
from scaling.simulator.trace import Trace, parse_azure_csv
from scaling.telemetry import NoRequestsObserved, TelemetryUnavailable
from tenants.resources import Resources
from tenants.selectors import committed_resources, quota_limit, tenant_for, tenants_visible_to


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@login_required
def home(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    tenants = tenants_visible_to(actor=actor).prefetch_related("endpoints").order_by("slug")
    context = {"tenants": tenants, "principal": actor}
    if actor.reads_all_tenants:
        context["fleet"] = _fleet(list(tenants))
    return render(request, "frontend/home.html", context)


def _fleet(tenants: list) -> dict:
    """Platform-wide: GPUs and MIG slices granted against committed, rollouts in progress, the
    latest failures."""
    granted = committed = Resources()
    in_use: dict[str, int] = {}
    for tenant in tenants:
        granted = granted + quota_limit(tenant.quota)
        committed = committed + committed_resources(tenant=tenant)
        # What the namespaces' ResourceQuotas report as used (`requests.nvidia.com/gpu`, one
        # `requests.nvidia.com/mig-<profile>` per profile), as last read back by the reconciler.
        for resource, amount in (tenant.quota_used or {}).items():
            name = resource.removeprefix("requests.nvidia.com/")
            if name != resource and str(amount).isdigit():
                in_use[name] = in_use.get(name, 0) + int(amount)
    profiles = sorted(set(granted.mig_slices) | set(committed.mig_slices))
    rollouts = (
        Rollout.objects.filter(state__in=Rollout.ACTIVE_STATES)
        .select_related("endpoint__tenant", "to_revision__endpoint")
        .order_by("-created_at")[:20]
    )
    failures = AuditEvent.objects.exclude(outcome=AuditEvent.Outcome.SUCCESS).order_by("-id")[:10]
    by_condition = {"ready": 0, "progressing": 0, "degraded": 0}
    for conditions in Endpoint.objects.values_list("conditions", flat=True):
        states = {c["type"]: c["status"] for c in conditions}
        if states.get("Degraded") == "True":
            by_condition["degraded"] += 1
        elif states.get("Ready") == "True":
            by_condition["ready"] += 1
        else:
            by_condition["progressing"] += 1
    return {
        "gpus_granted": granted.gpus,
        "gpus_committed": committed.gpus,
        "gpus_in_use": in_use.get("gpu", 0),
        "mig": [
            (
                p,
                granted.mig_slices.get(p, 0),
                committed.mig_slices.get(p, 0),
                in_use.get(f"mig-{p}", 0),
            )
            for p in profiles
        ],
        "rollouts": rollouts,
        "failures": failures,
        "endpoints": by_condition,
    }


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    message = str(exception) if exception and str(exception) else "There is nothing here."
    return error_page(request, 404, "Not found", message)


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return error_page(request, 403, "Not allowed", "Your role does not allow this.")


@login_required
def endpoint_scaling(request: HttpRequest, slug: str, name: str) -> HttpResponse:
    """The endpoint's scaling policy beside the presets, simulated on the endpoint's own traffic
    (from Prometheus) or on an uploaded trace."""
    actor = actor_of(request)
    try:
        tenant = tenant_for(actor=actor, slug=slug)
        endpoint = endpoint_for(tenant=tenant, name=name)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    policy = endpoint.scaling_policy.to_spec()
    context: dict[str, object] = {
        "tenant": tenant,
        "endpoint": endpoint,
        "policy": policy,
        "telemetry_configured": bool(settings.PROMETHEUS_URL),
        "max_requests": MAX_INTERACTIVE_REQUESTS,
    }
    if request.method != "POST":
        # Without Prometheus the endpoint's own traffic cannot be read: offer the upload.
        initial = {"source": "prometheus" if settings.PROMETHEUS_URL else "trace"}
        context["form"] = ScalingComparisonForm(initial=initial)
        return render(request, "frontend/endpoint_scaling.html", context)
    form = ScalingComparisonForm(request.POST, request.FILES)
    context["form"] = form
    if not form.is_valid():
        return render(request, "frontend/endpoint_scaling.html", context, status=400)
    data = form.cleaned_data
    config = SimConfig(slo_ttft_ms=float(data["slo_ttft_ms"]), cold_start=data["cold_start"])
    try:
        if data["source"] == "prometheus":
            end = timezone.now()
            trace, comparison = compare_endpoint_traffic(
                endpoint,
                start=end - timedelta(hours=data["window_hours"]),
                end=end,
                config=config,
                max_requests=MAX_INTERACTIVE_REQUESTS,
            )
        else:
            trace = _uploaded_trace(data)
            comparison = compare(trace, with_presets("current", policy), config)
    except (TelemetryUnavailable, NoRequestsObserved) as exc:
        context["unavailable"] = str(exc)
        status = 503 if isinstance(exc, TelemetryUnavailable) else 200
        return render(request, "frontend/endpoint_scaling.html", context, status=status)
    except TooManyRequests as exc:
        form.add_error(
            "window_hours",
            f"{exc} Choose a shorter window, or run `manage.py simulate_scaling --endpoint "
            f"{endpoint.tenant.slug}/{endpoint.name}`.",
        )
        return render(request, "frontend/endpoint_scaling.html", context, status=400)
    except ValueError as exc:
        form.add_error("trace" if data["source"] == "trace" else "window_hours", str(exc))
        return render(request, "frontend/endpoint_scaling.html", context, status=400)
    # Imported here: matplotlib takes about 0.35 s to import, which every web process would
    # otherwise pay at start-up for a page few people open.
    from scaling.simulator.plot import plot_result

    image = io.BytesIO()
    plot_result(comparison.outcomes[0].result, image, title=endpoint.name, oracle=comparison.oracle)
    rows = [
        {**row, "within_slo": f"{row['slo_attainment']:.1%}"}
        for row in comparison.summary()["policies"]
    ]
    context.update(
        comparison=comparison,
        rows=rows,
        requests=len(trace.requests),
        plot=base64.b64encode(image.getvalue()).decode(),
    )
    return render(request, "frontend/endpoint_scaling.html", context)


def _uploaded_trace(data: dict) -> Trace:
    lines = io.TextIOWrapper(data["trace"].file, encoding="utf-8", newline="")
    try:
        return parse_azure_csv(
            lines, rate_scale=data["rate_scale"], max_requests=MAX_INTERACTIVE_REQUESTS
        )
    except UnicodeDecodeError:
        raise ValueError("The file is not UTF-8 text.") from None
