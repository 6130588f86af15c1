"""The console's pages. They read through selectors, exactly like the API."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from control_plane.auth.principal import principal_for_user
from control_plane.request_context import source_address_of
from tenants.selectors import tenants_visible_to


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@login_required
def home(request: HttpRequest) -> HttpResponse:
    actor = principal_for_user(
        request.user,
        request_id=getattr(request, "request_id", ""),
        source_address=source_address_of(request),
    )
    tenants = tenants_visible_to(actor=actor).prefetch_related("endpoints")
    return render(
        request,
        "frontend/home.html",
        {"tenants": tenants, "principal": actor},
    )
