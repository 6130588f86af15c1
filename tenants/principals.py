"""Building a Principal from what the database says a user holds: a platform role and tenant
memberships. The kernel's Principal is plain data; these rows live here, with the tenants."""

from __future__ import annotations

from django.contrib.auth.models import User

from control_plane.auth.principal import Principal
from tenants.models import Membership, PlatformRole


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
        platform_role = (
            PlatformRole.objects.filter(user=user).values_list("role", flat=True).first()
        )
    memberships = list(
        Membership.objects.filter(user=user).values_list("tenant_id", "role", "tenant__slug")
    )
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
