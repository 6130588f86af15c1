"""What every console page shares: who is asking, the tenant and endpoint they may see (404
otherwise, as in the API), and how a service's refusal reaches the person (next to the field,
in the API's words)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from control_plane.auth.principal import Principal
from control_plane.errors import NotFound, ServiceError
from control_plane.request_context import source_address_of
from endpoints.models import Endpoint
from endpoints.selectors import endpoint_for
from tenants.models import Tenant
from tenants.principals import principal_for_user
from tenants.selectors import tenant_for


def actor_of(request: HttpRequest) -> Principal:
    """The person behind the request, looked up once per request (the page and the navigation
    both ask)."""
    actor = getattr(request, "console_actor", None)
    if actor is None:
        actor = request.console_actor = principal_for_user(
            request.user,
            request_id=getattr(request, "request_id", ""),
            source_address=source_address_of(request),
        )
    return actor


def visible_tenant(actor: Principal, slug: str) -> Tenant:
    try:
        return tenant_for(actor=actor, slug=slug)
    except NotFound as error:
        raise Http404(error.message) from error


def visible_endpoint(actor: Principal, slug: str, name: str) -> tuple[Tenant, Endpoint]:
    tenant = visible_tenant(actor, slug)
    try:
        return tenant, endpoint_for(tenant=tenant, name=name)
    except NotFound as error:
        raise Http404(error.message) from error


def attempt(
    request: HttpRequest, call: Callable[[], Any], *, form: forms.Form | None = None
) -> tuple[bool, Any]:
    """Run a service call; a refusal becomes a form error on its field (or a message) and
    (False, the error). Permission and state refusals read the same as in the API."""
    try:
        return True, call()
    except ServiceError as error:
        if form is not None:
            field = error.field if error.field in form.fields else None
            form.add_error(field, error.message)
        else:
            messages.error(request, error.message)
        return False, error


def error_page(request: HttpRequest, status: int, heading: str, message: str) -> HttpResponse:
    return render(
        request,
        "frontend/error.html",
        {"status": status, "heading": heading, "message": message},
        status=status,
    )


def navigation(request: HttpRequest) -> dict[str, bool]:
    """Template context of every page: which links of the navigation the person may follow."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"oidc_enabled": settings.OIDC_ENABLED}
    actor = actor_of(request)
    return {
        "nav_users": actor.reads_all_tenants,
        "oidc_enabled": settings.OIDC_ENABLED,
        # The tenant switcher: the person's own tenants (platform roles reach all from home).
        "nav_tenants": list(
            Tenant.objects.filter(pk__in=list(actor.tenant_roles))
            .order_by("slug")
            .values_list("slug", "display_name")
        ),
    }
