"""The tenant page: quota use, members, endpoints; and the forms that change them, each shown
only to the roles the services allow (the services refuse the others anyway)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from endpoints import services as endpoint_services
from endpoints.models import ModelVersion
from endpoints.selectors import (
    endpoints_of,
    model_versions_visible_to,
)
from frontend.console import actor_of, attempt, visible_tenant
from frontend.forms import EndpointCreateForm, MemberAddForm, QuotaForm, TenantCreateForm
from scaling.policy import parse_policy
from tenants import services as tenant_services
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


def usable_versions(actor, tenant) -> list[ModelVersion]:
    visible = model_versions_visible_to(actor=actor).filter(state=ModelVersion.State.ACTIVE)
    return [v for v in visible if v.tenant_id in (None, tenant.pk)]


def _quota_initial(tenant) -> dict:
    quota = tenant.quota
    return {
        "gpus": quota.gpus,
        "max_endpoints": quota.max_endpoints,
        "cpu": f"{quota.cpu_millicores}m",
        "memory": f"{quota.memory_bytes // 2**30}Gi",
        "mig_slices": ", ".join(f"{p}={n}" for p, n in sorted(quota.mig_slices.items()) if n),
    }


def _render(request, tenant, actor, *, status=200, **forms) -> HttpResponse:
    context = {
        "tenant": tenant,
        "quota": _bars(quota_limit(tenant.quota), committed_resources(tenant=tenant)),
        "members": memberships_of(tenant=tenant).order_by("user__username"),
        "endpoints": list(endpoints_of(tenant=tenant)),
        "role": actor.role_in(tenant) or ("platform" if actor.reads_all_tenants else None),
        "can_deploy": actor.has_tenant_role(tenant, "deployer"),
        "can_admin": actor.has_tenant_role(tenant, "admin"),
        "can_set_quota": actor.is_platform_admin,
        "endpoint_form": forms.get("endpoint_form")
        or EndpointCreateForm(versions=usable_versions(actor, tenant)),
        "member_form": forms.get("member_form") or MemberAddForm(),
        "quota_form": forms.get("quota_form") or QuotaForm(initial=_quota_initial(tenant)),
    }
    return render(request, "frontend/tenant.html", context, status=status)


@login_required
def tenant_page(request: HttpRequest, slug: str) -> HttpResponse:
    actor = actor_of(request)
    return _render(request, visible_tenant(actor, slug), actor)


@login_required
@require_POST
def endpoint_create(request: HttpRequest, slug: str) -> HttpResponse:
    actor = actor_of(request)
    tenant = visible_tenant(actor, slug)
    versions = usable_versions(actor, tenant)
    form = EndpointCreateForm(request.POST, versions=versions)
    if not form.is_valid():
        return _render(request, tenant, actor, status=400, endpoint_form=form)
    data = form.cleaned_data
    version = next(v for v in versions if v.pk == data["model_version"])
    ok, result = attempt(
        request,
        lambda: endpoint_services.endpoint_create(
            actor=actor,
            tenant=tenant,
            name=data["name"],
            model_version=version,
            scaling=parse_policy(
                {
                    "preset": data["preset"],
                    "min_replicas": data["min_replicas"],
                    "max_replicas": data["max_replicas"],
                }
            ),
        ),
        form=form,
    )
    if not ok:
        return _render(request, tenant, actor, status=result.status, endpoint_form=form)
    messages.success(request, f"Endpoint {result.name} created; it is being provisioned.")
    return redirect("endpoint", slug=slug, name=result.name)


@login_required
@require_POST
def member_add(request: HttpRequest, slug: str) -> HttpResponse:
    actor = actor_of(request)
    tenant = visible_tenant(actor, slug)
    form = MemberAddForm(request.POST)
    if not form.is_valid():
        return _render(request, tenant, actor, status=400, member_form=form)
    ok, result = attempt(
        request,
        lambda: tenant_services.membership_add(actor=actor, tenant=tenant, **form.cleaned_data),
        form=form,
    )
    if not ok:
        return _render(request, tenant, actor, status=result.status, member_form=form)
    messages.success(request, f"{result.user.username} is now a {result.role}.")
    return redirect("tenant", slug=slug)


@login_required
@require_POST
def quota_update(request: HttpRequest, slug: str) -> HttpResponse:
    actor = actor_of(request)
    tenant = visible_tenant(actor, slug)
    form = QuotaForm(request.POST)
    if not form.is_valid():
        return _render(request, tenant, actor, status=400, quota_form=form)
    data = form.cleaned_data
    values = tenant_services.QuotaValues(
        gpus=data["gpus"],
        mig_slices=data["mig_slices"],
        max_endpoints=data["max_endpoints"],
        cpu_millicores=data["cpu"],
        memory_bytes=data["memory"],
    )
    ok, result = attempt(
        request,
        lambda: tenant_services.quota_update(actor=actor, tenant=tenant, values=values),
        form=form,
    )
    if not ok:
        return _render(request, tenant, actor, status=result.status, quota_form=form)
    messages.success(request, "Quota saved.")
    return redirect("tenant", slug=slug)


@login_required
@require_POST
def tenant_create(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    form = TenantCreateForm(request.POST)
    ok = form.is_valid()
    if ok:
        ok, result = attempt(
            request,
            lambda: tenant_services.tenant_create(actor=actor, **form.cleaned_data),
            form=form,
        )
    if not ok:
        for field, errors in form.errors.items():
            for error in errors:
                messages.error(request, f"{field}: {error}" if field != "__all__" else error)
        return redirect("home")
    messages.success(request, f"Tenant {result.slug} created; its namespace is being provisioned.")
    return redirect("tenant", slug=result.slug)


@login_required
def tenant_switch(request: HttpRequest) -> HttpResponse:
    """The header's tenant switcher: to the chosen tenant's page (404 for one not visible)."""
    actor = actor_of(request)
    tenant = visible_tenant(actor, request.GET.get("slug", ""))
    return redirect("tenant", slug=tenant.slug)
