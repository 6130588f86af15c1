"""Who is acting: a person, an API key acting for its person, or the system itself.

A Principal is built once per request (two queries, by tenants.principals) and carries the
caller's roles, the request id and the source address, so services can check permissions and
write audit events without touching the request. It is plain data: the kernel knows roles by
tenant id and slug, never the Tenant model (docs/decisions/0012).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from django.contrib.auth.models import User

ActorKind = Literal["user", "api_key", "system"]
TENANT_ROLE_RANK = {"viewer": 1, "deployer": 2, "admin": 3}


class HasPk(Protocol):
    """A tenant as the kernel sees it: anything with a primary key."""

    @property
    def pk(self) -> int: ...


@dataclass(frozen=True)
class Principal:
    kind: ActorKind
    user: User | None = None
    api_key_id: int | None = None
    api_key_prefix: str = ""
    platform_role: str | None = None
    tenant_roles: Mapping[int, str] = field(default_factory=dict)
    # Audit events name their tenant by slug (the chain outlives the row), so the slugs the
    # caller administers come with the roles, from the same query.
    administered_tenant_slugs: frozenset[str] = frozenset()
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

    def role_in(self, tenant: HasPk | int) -> str | None:
        tenant_id = tenant if isinstance(tenant, int) else tenant.pk
        return self.tenant_roles.get(tenant_id)

    def has_tenant_role(self, tenant: HasPk | int, minimum: str) -> bool:
        """True for platform admins and for members holding `minimum` or a stronger role."""
        if self.is_platform_admin:
            return True
        role = self.role_in(tenant)
        return role is not None and TENANT_ROLE_RANK[role] >= TENANT_ROLE_RANK[minimum]

    def can_see_tenant(self, tenant: HasPk | int) -> bool:
        return self.reads_all_tenants or self.role_in(tenant) is not None
