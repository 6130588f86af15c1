"""The model catalog: what can be deployed, what each version needs, and deprecation."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from control_plane.errors import NotFound
from endpoints import services as endpoint_services
from endpoints.selectors import model_version_for, model_versions_visible_to
from frontend.console import actor_of, attempt


@login_required
def catalog_page(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    versions = model_versions_visible_to(actor=actor).order_by("name", "version")
    rows = [
        {
            "version": version,
            # Who may deprecate it, as the service decides: platform admins for platform-wide
            # entries, the tenant's deployers for its private ones.
            "can_deprecate": version.state == "active"
            and (
                actor.is_platform_admin
                if version.tenant_id is None
                else actor.has_tenant_role(version.tenant_id, "deployer")
            ),
        }
        for version in versions
    ]
    return render(request, "frontend/catalog.html", {"rows": rows})


@login_required
@require_POST
def deprecate(request: HttpRequest, pk: int) -> HttpResponse:
    actor = actor_of(request)
    try:
        version = model_version_for(actor=actor, pk=pk)
    except NotFound as error:
        raise Http404(error.message) from error
    ok, _ = attempt(
        request, lambda: endpoint_services.model_version_deprecate(actor=actor, version=version)
    )
    if ok:
        messages.success(request, f"{version} is deprecated: running endpoints keep it.")
    return redirect("catalog")
