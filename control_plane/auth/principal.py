"""Who is acting: a person, an API key acting for its person, or the system itself.

A Principal is built once per request (one or two queries) and carries the caller's roles, the
request id and the source address, so services can check permissions and write audit events
without touching the request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from tenants.models import Tenant

ActorKind = Literal["user", "api_key", "system"]
TENANT_ROLE_RANK = {"viewer": 1, "deployer": 2, "admin": 3}


@dataclass(frozen=True)
class Principal:
    kind: ActorKind
    user: User | None = None
    api_key_id: int | None = None
    api_key_prefix: str = ""
    platform_role: str | None = None
    tenant_roles: Mapping[int, str] = field(default_factory=dict)
    request_id: str = ""
    source_address: str | None = None

    @classmethod
    def system(cls, *, request_id: str = "") -> Principal:
        return cls(kind="system", platform_role="admin", request_id=request_id)

    @property
    def label(self) -> str:
        return self.user.get_username() if self.user is not None else "system"

    @property
    def is_platform_admin(self) -> bool:
        return self.platform_role == "admin"

    @property
    def is_auditor(self) -> bool:
        return self.platform_role == "auditor"

    @property
    def reads_all_tenants(self) -> bool:
        return self.platform_role in ("admin", "auditor")

    def role_in(self, tenant: Tenant | int) -> str | None:
        tenant_id = tenant if isinstance(tenant, int) else tenant.pk
        return self.tenant_roles.get(tenant_id)

    def has_tenant_role(self, tenant: Tenant | int, minimum: str) -> bool:
        """True for platform admins and for members holding `minimum` or a stronger role."""
        if self.is_platform_admin:
            return True
        role = self.role_in(tenant)
        return role is not None and TENANT_ROLE_RANK[role] >= TENANT_ROLE_RANK[minimum]

    def can_see_tenant(self, tenant: Tenant | int) -> bool:
        return self.reads_all_tenants or self.role_in(tenant) is not None


def principal_for_user(
    user: User,
    *,
    api_key_id: int | None = None,
    api_key_prefix: str = "",
    request_id: str = "",
    source_address: str | None = None,
) -> Principal:
    from tenants.models import Membership

    if not user.is_active:
        platform_role = None
    elif user.is_superuser:
        # A Django superuser (`createsuperuser`) is a platform admin, as in NetBox: the first
        # admin needs no other tool to exist.
        platform_role = "admin"
    else:
        platform_role = _platform_role(user)
    # order_by(): the model's ordering (tenant slug, username) would join two tables to sort
    # rows that end up in a dict.
    tenant_roles = dict(
        Membership.objects.filter(user=user).order_by().values_list("tenant_id", "role")
    )
    return Principal(
        kind="api_key" if api_key_id else "user",
        user=user,
        api_key_id=api_key_id,
        api_key_prefix=api_key_prefix,
        platform_role=platform_role,
        tenant_roles=tenant_roles,
        request_id=request_id,
        source_address=source_address,
    )


def _platform_role(user: User) -> str | None:
    """No query when the caller loaded the user with `select_related("platform_role")`, as API
    key authentication does; otherwise read fresh (a cached role could be stale)."""
    from tenants.models import PlatformRole

    relation = PlatformRole._meta.get_field("user").remote_field
    if relation.is_cached(user):
        cached = relation.get_cached_value(user)  # None: the user has no platform role
        return cached.role if cached is not None else None
    return PlatformRole.objects.filter(user=user).values_list("role", flat=True).first()
