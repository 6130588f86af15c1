"""The model catalog: what can be deployed, and what each version needs."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from endpoints.selectors import model_versions_visible_to
from frontend.console import actor_of


@login_required
def catalog_page(request: HttpRequest) -> HttpResponse:
    versions = model_versions_visible_to(actor=actor_of(request)).order_by("name", "version")
    return render(request, "frontend/catalog.html", {"versions": versions})
