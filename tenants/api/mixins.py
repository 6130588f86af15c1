"""Views nested under /tenants/{slug}/, in any app."""

from __future__ import annotations

from control_plane.api.mixins import PrincipalMixin
from tenants.models import Tenant
from tenants.selectors import tenant_for


class TenantScopedMixin(PrincipalMixin):
    """The tenant must be visible to the caller (404 if not), looked up once per request."""

    kwargs: dict

    @property
    def tenant(self) -> Tenant:
        cached = getattr(self, "_tenant", None)
        if cached is None:
            cached = self._tenant = tenant_for(actor=self.principal, slug=self.kwargs["slug"])
        return cached
