"""The audit log: filters, paging, newest first; scoped as the API scopes it."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from control_plane.audit.selectors import audit_events_visible_to
from frontend.console import actor_of

PAGE_SIZE = 50


class AuditFilterForm(forms.Form):
    tenant = forms.CharField(required=False, max_length=64)
    action = forms.CharField(required=False, max_length=64)
    actor = forms.CharField(required=False, max_length=150)
    since = forms.DateTimeField(required=False, help_text="e.g. 2026-12-01 00:00")
    until = forms.DateTimeField(required=False)


@login_required
def audit_page(request: HttpRequest) -> HttpResponse:
    events = audit_events_visible_to(actor=actor_of(request)).order_by("-occurred_at", "-id")
    form = AuditFilterForm(request.GET or None)
    status = 200
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        if data["tenant"]:
            events = events.filter(tenant_slug=data["tenant"])
        if data["action"]:
            events = events.filter(action=data["action"])
        if data["actor"]:
            events = events.filter(actor=data["actor"])
        if data["since"]:
            events = events.filter(occurred_at__gte=data["since"])
        if data["until"]:
            events = events.filter(occurred_at__lt=data["until"])
    elif form.is_bound:
        status = 400
        events = events.none()
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    newest = events.order_by("-id").values_list("id", flat=True).first() or 0
    exports = _exports(form.cleaned_data if form.is_bound and form.is_valid() else {}, newest)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "frontend/audit.html",
        {"form": form, "page": page, "query": query.urlencode(), "exports": exports},
        status=status,
    )


def _exports(filters: dict, max_event_id: int) -> list[tuple[str, str]]:
    """(label, URL) of the signed exports of exactly what the filters show, each beside its
    manifest: the API's export routes (the console's session authenticates them), pinned to
    this page's moment and newest event so that an export and its manifest hold the same rows."""
    query = {name: value for name, value in filters.items() if value}
    query.setdefault("until", timezone.now())
    for name in ("since", "until"):
        if name in query:
            query[name] = query[name].isoformat()
    query["max_event_id"] = max_event_id
    base = reverse("auditevent-export")
    links = []
    for label, fmt in (("CSV", "csv"), ("JSON Lines", "jsonl")):
        pinned = urlencode({"format": fmt, **query})
        links += [(label, f"{base}?{pinned}"), (f"{label} manifest", f"{base}manifest/?{pinned}")]
    return links
