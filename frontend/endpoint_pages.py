"""The endpoint page: where it answers, its revisions and weights, replicas, conditions, the
rendered manifests and its rollouts, with the form that starts one."""

from __future__ import annotations

import yaml
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from control_plane.errors import ServiceError
from control_plane.render_context import RenderContext
from endpoints import services as endpoint_services
from endpoints.reconciler import desired_objects
from endpoints.rollouts import services as rollout_services
from endpoints.rollouts.selectors import rollouts_of
from endpoints.selectors import endpoint_commitment
from frontend.console import actor_of, attempt, visible_endpoint
from frontend.forms import RolloutStartForm, ScaleForm
from frontend.tenant_pages import usable_versions as _versions
from scaling.policy import parse_change
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
