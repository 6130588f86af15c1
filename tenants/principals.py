"""Building a Principal from what the database says a user holds: a platform role and tenant
memberships. The kernel's Principal is plain data; these rows live here, with the tenants."""

from __future__ import annotations

from django.contrib.auth.models import User

from control_plane.auth.principal import Principal
from control_plane.compiled_queries import CompiledQuery
from tenants.models import Membership, PlatformRole

# order_by(): the model's ordering (tenant slug, username) would join two tables to sort rows
# that end up in a dict. Compiled once: every API request runs it.
_MEMBERSHIPS: CompiledQuery[tuple[int, str, str]] = CompiledQuery(
    lambda user_id: (
        Membership.objects.filter(user_id=user_id)
        .order_by()
        .values_list("tenant_id", "role", "tenant__slug")
    ),
    user_id=int,
)


def principal_for_user(
    user: User,
    *,
    api_key_id: int | None = None,
    api_key_prefix: str = "",
    request_id: str = "",
    source_address: str | None = None,
) -> Principal:
    if not user.is_active:
        platform_role = None
    elif user.is_superuser:
        # A Django superuser (`createsuperuser`) is a platform admin, as in NetBox: the first
        # admin needs no other tool to exist.
        platform_role = "admin"
    else:
        platform_role = _platform_role(user)
    memberships = _MEMBERSHIPS(user_id=user.pk)
    tenant_roles = {tenant_id: role for tenant_id, role, _ in memberships}
    administered = frozenset(slug for _, role, slug in memberships if role == "admin")
    return Principal(
        kind="api_key" if api_key_id else "user",
        user=user,
        api_key_id=api_key_id,
        api_key_prefix=api_key_prefix,
        platform_role=platform_role,
        tenant_roles=tenant_roles,
        administered_tenant_slugs=administered,
        request_id=request_id,
        source_address=source_address,
    )


def _platform_role(user: User) -> str | None:
    """No query when the caller loaded the user with `select_related("platform_role")`, as API
    key authentication does; otherwise read fresh (a cached role could be stale)."""
    relation = PlatformRole._meta.get_field("user").remote_field
    if relation.is_cached(user):
        cached = relation.get_cached_value(user)  # None: the user has no platform role
        return cached.role if cached is not None else None
    return PlatformRole.objects.filter(user=user).values_list("role", flat=True).first()
