"""Reads of tenants, quotas, memberships and keys, scoped to what the caller may see."""

from __future__ import annotations

from django.db.models import QuerySet

from control_plane.auth.principal import Principal
from control_plane.compiled_queries import CompiledQuery
from control_plane.errors import NotFound
from endpoints.selectors import committed_by_endpoints
from tenants.models import ApiKey, Membership, Quota, Tenant
from tenants.resources import Resources


def tenants_visible_to(*, actor: Principal) -> QuerySet[Tenant]:
    tenants = Tenant.objects.select_related("quota")
    if actor.reads_all_tenants:
        return tenants
    return tenants.filter(pk__in=list(actor.tenant_roles))


# Compiled once: every tenant-scoped API request runs it. Visibility is checked on the row, so
# the SQL does not change with the number of tenants the caller is a member of.
_TENANT_BY_SLUG: CompiledQuery[Tenant] = CompiledQuery(
    lambda slug: Tenant.objects.select_related("quota").filter(slug=slug), slug=str
)


def tenant_for(*, actor: Principal, slug: str) -> Tenant:
    """The tenant if the caller may see it; another tenant answers 404, never 403."""
    found = _TENANT_BY_SLUG(slug=slug)  # the slug is unique: one row at most
    if not found or not actor.can_see_tenant(found[0]):
        raise NotFound(f"No tenant {slug!r}.")
    return found[0]


def memberships_of(*, tenant: Tenant) -> QuerySet[Membership]:
    return Membership.objects.filter(tenant=tenant).select_related("user", "tenant")


def api_keys_of(*, actor: Principal) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(user=actor.user)


def quota_limit(quota: Quota) -> Resources:
    return Resources(
        gpus=quota.gpus,
        mig_slices={profile: count for profile, count in quota.mig_slices.items() if count},
        endpoints=quota.max_endpoints,
        cpu_millicores=quota.cpu_millicores,
        memory_bytes=quota.memory_bytes,
    )


def committed_resources(*, tenant: Tenant) -> Resources:
    """What the tenant's endpoints commit at their maximum scale, canaries included."""
    return committed_by_endpoints(tenant=tenant)
