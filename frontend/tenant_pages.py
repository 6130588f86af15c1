"""The tenant page: quota use, members, endpoints."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from endpoints.selectors import endpoints_of
from frontend.console import actor_of, visible_tenant
from tenants.selectors import committed_resources, memberships_of, quota_limit


def _bars(limit, committed) -> list[dict]:
    """One row per quota dimension: granted, committed, and the share for the bar."""
    rows = [
        ("GPUs", limit.gpus, committed.gpus),
        ("Endpoints", limit.endpoints, committed.endpoints),
    ]
    for profile, granted in sorted(limit.mig_slices.items()):
        rows.append((f"MIG {profile}", granted, committed.mig_slices.get(profile, 0)))
    rows.append(("CPU (cores)", limit.cpu_millicores // 1000, committed.cpu_millicores // 1000))
    rows.append(("Memory (GiB)", limit.memory_bytes // 2**30, committed.memory_bytes // 2**30))
    return [
        {
            "name": name,
            "granted": granted,
            "committed": used,
            "percent": min(100, round(100 * used / granted)) if granted else 0,
        }
        for name, granted, used in rows
    ]


@login_required
def tenant_page(request: HttpRequest, slug: str) -> HttpResponse:
    actor = actor_of(request)
    tenant = visible_tenant(actor, slug)
    context = {
        "tenant": tenant,
        "quota": _bars(quota_limit(tenant.quota), committed_resources(tenant=tenant)),
        "members": memberships_of(tenant=tenant).order_by("user__username"),
        "endpoints": endpoints_of(tenant=tenant).order_by("name"),
        "role": actor.role_in(tenant) or ("platform" if actor.reads_all_tenants else None),
    }
    return render(request, "frontend/tenant.html", context)
