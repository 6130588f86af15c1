"""The rollout page: the steps as a timeline, every check against the gates, and the actions.
While the rollout is active its status part refreshes itself (htmx polling)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from control_plane.errors import NotFound
from endpoints.rollouts import services as rollout_services
from endpoints.rollouts.selectors import rollout_for
from endpoints.rollouts.spec import RolloutSpec
from frontend.console import actor_of, attempt, visible_endpoint
from frontend.forms import ReasonForm

ACTIONS = {
    "pause": rollout_services.rollout_pause,
    "resume": rollout_services.rollout_resume,
    "promote": rollout_services.rollout_promote,
    "abort": rollout_services.rollout_abort,
}


def _timeline(rollout) -> list[dict]:
    spec = RolloutSpec.from_json(rollout.spec)
    steps = []
    for index, weight in enumerate(spec.steps):
        last = index == len(spec.steps) - 1
        if rollout.state == "promoted":
            state = "done"
        elif not rollout.is_active:
            state = "done" if index < rollout.step else "not reached"
        elif index < rollout.step:
            state = "done"
        elif index == rollout.step and rollout.canary_ready_at is not None:
            state = "current"
        else:
            state = "next"
        steps.append({"weight": weight, "state": state, "promotion": last})
    return steps


def _load(request, slug: str, name: str, pk: int):
    actor = actor_of(request)
    tenant, endpoint = visible_endpoint(actor, slug, name)
    try:
        rollout = rollout_for(endpoint=endpoint, pk=pk, with_checks=True)
    except NotFound as error:
        raise Http404(error.message) from error
    return actor, tenant, endpoint, rollout


@login_required
def rollout_page(request: HttpRequest, slug: str, name: str, pk: int) -> HttpResponse:
    actor, tenant, endpoint, rollout = _load(request, slug, name, pk)
    context = {
        "tenant": tenant,
        "endpoint": endpoint,
        "rollout": rollout,
        "spec": RolloutSpec.from_json(rollout.spec),
        "timeline": _timeline(rollout),
        "checks": list(rollout.checks.all())[::-1],
        "can_deploy": actor.has_tenant_role(tenant, "deployer"),
    }
    template = "frontend/rollout_status.html" if request.htmx else "frontend/rollout.html"
    return render(request, template, context)


@login_required
@require_POST
def rollout_action(request: HttpRequest, slug: str, name: str, pk: int, action: str):
    if action not in ACTIONS:
        raise Http404(f"No rollout action {action!r}.")
    actor, _, _, rollout = _load(request, slug, name, pk)
    form = ReasonForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    ok, _ = attempt(request, lambda: ACTIONS[action](actor=actor, rollout=rollout, reason=reason))
    if ok:
        messages.success(request, f"Rollout {rollout.pk}: {action} done.")
    return redirect("rollout", slug=slug, name=name, pk=pk)
