"""The endpoint page: where it answers, its revisions and weights, replicas, conditions, the
rendered manifests and its rollouts, with the form that starts one."""

from __future__ import annotations

import yaml
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from endpoints.models import ModelVersion
from endpoints.reconciler import desired_objects
from endpoints.rollouts import services as rollout_services
from endpoints.rollouts.selectors import rollouts_of
from endpoints.selectors import model_versions_visible_to
from frontend.console import actor_of, attempt, visible_endpoint
from frontend.forms import RolloutStartForm


def _versions(actor, tenant):
    visible = model_versions_visible_to(actor=actor).filter(state=ModelVersion.State.ACTIVE)
    return [v for v in visible if v.tenant_id in (None, tenant.pk)]


def _manifests(endpoint) -> str:
    try:
        return yaml.safe_dump_all(desired_objects(endpoint), sort_keys=False)
    except Exception as error:  # a render the settings refuse is shown, not a 500
        return f"# cannot render: {error}"


def _render(request, tenant, endpoint, actor, form, status=200) -> HttpResponse:
    context = {
        "tenant": tenant,
        "endpoint": endpoint,
        "can_deploy": actor.has_tenant_role(tenant, "deployer"),
        "stable_weight": 100 - endpoint.canary_weight if endpoint.canary_revision else 100,
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
