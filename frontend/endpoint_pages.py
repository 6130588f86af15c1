"""The endpoint page: where it answers, its revisions and weights, replicas, conditions, the
rendered manifests and its rollouts, with the form that starts one; and the scaling
recommendation with its Apply button."""

from __future__ import annotations

import json

import yaml
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from control_plane.errors import ServiceError, ValidationFailed
from control_plane.render_context import RenderContext
from endpoints import services as endpoint_services
from endpoints.reconciler import desired_objects
from endpoints.rollouts import services as rollout_services
from endpoints.rollouts.selectors import rollouts_of
from endpoints.selectors import endpoint_commitment
from frontend.console import actor_of, attempt, error_page, visible_endpoint
from frontend.forms import RolloutStartForm, ScaleForm
from frontend.tenant_pages import usable_versions as _versions
from scaling.api.recommendation import recommendation_body, recommendation_for
from scaling.policy import parse_change
from scaling.recommendation import (
    MAX_RECOMMENDATION_REQUESTS,
    MAX_RECOMMENDATION_WINDOW,
    parse_since,
)
from tenants.selectors import committed_resources, quota_limit


def _manifests(endpoint) -> str:
    try:
        return yaml.safe_dump_all(
            desired_objects(endpoint, RenderContext.from_settings(settings)), sort_keys=False
        )
    except (ServiceError, ValueError) as error:  # a render today's settings refuse (a GPU pool
        # gone) is shown on the page, not a 500
        return f"# cannot render: {error}"


def _render(request, tenant, endpoint, actor, form, status=200, scale_form=None) -> HttpResponse:
    policy = endpoint.scaling_policy
    context = {
        "scale_form": scale_form
        or ScaleForm(
            initial={"min_replicas": policy.min_replicas, "max_replicas": policy.max_replicas}
        ),
        "policy": policy,
        "tenant": tenant,
        "endpoint": endpoint,
        "can_deploy": actor.has_tenant_role(tenant, "deployer"),
        "stable_weight": 100 - endpoint.canary_weight if endpoint.canary_revision else 100,
        # Still provisioning, changing or failing: the status part refreshes itself.
        "settled": endpoint.observed_generation >= endpoint.generation
        and any(c["type"] == "Ready" and c["status"] == "True" for c in endpoint.conditions),
        "rollouts": rollouts_of(endpoint=endpoint)[:20],
        "manifests": _manifests(endpoint),
        "form": form,
    }
    return render(request, "frontend/endpoint.html", context, status=status)


@login_required
def endpoint_page(request: HttpRequest, slug: str, name: str) -> HttpResponse:
    actor = actor_of(request)
    tenant, endpoint = visible_endpoint(actor, slug, name)
    form = RolloutStartForm(versions=_versions(actor, tenant))
    return _render(request, tenant, endpoint, actor, form)


@login_required
@require_POST
def rollout_start(request: HttpRequest, slug: str, name: str) -> HttpResponse:
    actor = actor_of(request)
    tenant, endpoint = visible_endpoint(actor, slug, name)
    versions = _versions(actor, tenant)
    form = RolloutStartForm(request.POST, versions=versions)
    if not form.is_valid():
        return _render(request, tenant, endpoint, actor, form, status=400)
    version = next(v for v in versions if v.pk == form.cleaned_data["model_version"])
    ok, result = attempt(
        request,
        lambda: rollout_services.rollout_start(
            actor=actor, endpoint=endpoint, model_version=version, settings=form.settings()
        ),
        form=form,
    )
    if not ok:
        return _render(request, tenant, endpoint, actor, form, status=result.status)
    messages.success(request, f"Rollout {result.pk} started.")
    return redirect("rollout", slug=slug, name=name, pk=result.pk)


def quota_effect(endpoint, max_replicas: int) -> list[dict]:
    """What the tenant would commit with the endpoint at `max_replicas`, against its quota:
    the figures admission will check, shown before saving."""
    tenant = endpoint.tenant
    revisions = endpoint.revisions_in_service()
    before = committed_resources(tenant=tenant)
    mine = endpoint_commitment(
        revisions=revisions, max_replicas=endpoint.scaling_policy.max_replicas
    )
    new = endpoint_commitment(revisions=revisions, max_replicas=max_replicas)
    limit = quota_limit(tenant.quota)
    rows = [("GPUs", before.gpus, before.gpus - mine.gpus + new.gpus, limit.gpus)]
    for profile in sorted(set(new.mig_slices) | set(mine.mig_slices)):
        old = before.mig_slices.get(profile, 0)
        after = old - mine.mig_slices.get(profile, 0) + new.mig_slices.get(profile, 0)
        rows.append((f"MIG {profile}", old, after, limit.mig_slices.get(profile, 0)))
    return [
        {"name": name, "before": old, "after": after, "limit": cap, "fits": after <= cap}
        for name, old, after, cap in rows
    ]


@login_required
def scale_preview(request: HttpRequest, slug: str, name: str) -> HttpResponse:
    actor = actor_of(request)
    _, endpoint = visible_endpoint(actor, slug, name)
    form = ScaleForm(request.GET)
    rows = quota_effect(endpoint, form.cleaned_data["max_replicas"]) if form.is_valid() else []
    return render(request, "frontend/quota_effect.html", {"rows": rows, "form": form})


@login_required
@require_POST
def endpoint_scale(request: HttpRequest, slug: str, name: str) -> HttpResponse:
    actor = actor_of(request)
    tenant, endpoint = visible_endpoint(actor, slug, name)
    form = ScaleForm(request.POST)
    rollout_form = RolloutStartForm(versions=_versions(actor, tenant))
    if not form.is_valid():
        return _render(request, tenant, endpoint, actor, rollout_form, 400, scale_form=form)
    ok, result = attempt(
        request,
        lambda: endpoint_services.endpoint_update_scaling(
            actor=actor, endpoint=endpoint, change=parse_change(form.cleaned_data)
        ),
        form=form,
    )
    if not ok:
        status = result.status
        return _render(request, tenant, endpoint, actor, rollout_form, status, scale_form=form)
    messages.success(request, "Scaling saved.")
    return redirect("endpoint", slug=slug, name=name)


@login_required
@require_POST
def endpoint_delete(request: HttpRequest, slug: str, name: str) -> HttpResponse:
    actor = actor_of(request)
    _, endpoint = visible_endpoint(actor, slug, name)
    ok, _ = attempt(
        request, lambda: endpoint_services.endpoint_delete(actor=actor, endpoint=endpoint)
    )
    if not ok:
        return redirect("endpoint", slug=slug, name=name)
    messages.success(request, f"Endpoint {name} is being deleted.")
    return redirect("tenant", slug=slug)


class RecommendationForm(forms.Form):
    since = forms.CharField(initial="7d", max_length=16, help_text="e.g. 90m, 24h, 7d")
    slo_ttft_ms = forms.IntegerField(
        label="TTFT SLO (ms)", initial=1000, min_value=1, max_value=600_000, required=False
    )

    def clean_slo_ttft_ms(self) -> int:
        return self.cleaned_data["slo_ttft_ms"] or 1000


class ApplyRecommendationForm(forms.Form):
    # The PATCH body the page showed. The service validates it like any PATCH and checks the
    # person's role, so the page need not be trusted to have sent what it displayed.
    patch = forms.CharField(widget=forms.HiddenInput)

    def scaling(self) -> dict:
        try:
            body = json.loads(self.cleaned_data["patch"])
        except ValueError as exc:
            raise ValidationFailed("The recommendation is not valid JSON.") from exc
        if not isinstance(body, dict) or not isinstance(body.get("scaling"), dict):
            raise ValidationFailed("The recommendation has no scaling policy.")
        return body["scaling"]


@login_required
def scaling_recommendation(request: HttpRequest, slug: str, name: str) -> HttpResponse:
    """The cheapest policy meeting the SLO on the endpoint's own traffic (the API's
    `scaling-recommendation`), computed when the form is sent (a GET: it changes nothing)."""
    actor = actor_of(request)
    tenant, endpoint = visible_endpoint(actor, slug, name)
    context: dict[str, object] = {
        "tenant": tenant,
        "endpoint": endpoint,
        "can_deploy": actor.has_tenant_role(tenant, "deployer"),
        "max_days": MAX_RECOMMENDATION_WINDOW.days,
        "max_requests": MAX_RECOMMENDATION_REQUESTS,
    }
    template = "frontend/endpoint_recommendation.html"
    if "since" not in request.GET:
        context["form"] = RecommendationForm()
        return render(request, template, context)
    form = context["form"] = RecommendationForm(request.GET)
    if not form.is_valid():
        return render(request, template, context, status=400)
    data = form.cleaned_data
    try:
        since = parse_since(data["since"])
    except ValueError as exc:
        form.add_error("since", str(exc))
        return render(request, template, context, status=400)
    try:
        result = recommendation_for(
            endpoint, since=since, slo_ttft_ms=data["slo_ttft_ms"], goal=0.99
        )
    except ServiceError as error:
        # Prometheus missing or down (503), no traffic (409): said above the form; a window
        # too large or too short (400): beside the field.
        if error.field in form.fields:
            form.add_error(error.field, error.message)
        else:
            context["unavailable"] = error.message
        return render(request, template, context, status=error.status)
    body = recommendation_body(result, slo_ttft_ms=data["slo_ttft_ms"])
    patch = json.dumps(body["patch"], indent=2)
    context.update(
        result=body,
        rows=[
            {**row, "within_slo": f"{row['slo_attainment_servable']:.1%}"}
            for row in body["policies"]
        ],
        patch=patch,
        apply_form=ApplyRecommendationForm(initial={"patch": json.dumps(body["patch"])}),
    )
    return render(request, template, context)


@login_required
@require_POST
def scaling_recommendation_apply(request: HttpRequest, slug: str, name: str) -> HttpResponse:
    """Apply a shown recommendation: the same audited change as the API's PATCH."""
    actor = actor_of(request)
    _, endpoint = visible_endpoint(actor, slug, name)
    form = ApplyRecommendationForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Nothing to apply: compute a recommendation first.")
        return redirect("scaling-recommendation", slug=slug, name=name)
    try:
        endpoint_services.endpoint_update_scaling(
            actor=actor, endpoint=endpoint, change=parse_change(form.scaling())
        )
    except ServiceError as error:
        if error.status == 403:
            return error_page(request, 403, "Not allowed", error.message)
        # The hidden body has no fields of its own to show the error beside: name it.
        messages.error(request, f"{error.field}: {error.message}" if error.field else error.message)
        return redirect("scaling-recommendation", slug=slug, name=name)
    messages.success(request, "Recommended scaling applied.")
    return redirect("endpoint-scaling", slug=slug, name=name)
