"""Shared pieces of the API views."""

from __future__ import annotations

from rest_framework.request import Request

from control_plane.auth.authentication import principal_of
from control_plane.auth.principal import Principal
from tenants.models import Tenant
from tenants.selectors import tenant_for


class PrincipalMixin:
    request: Request

    @property
    def principal(self) -> Principal:
        return principal_of(self.request)


class TenantScopedMixin(PrincipalMixin):
    """Views nested under /tenants/{slug}/: the tenant must be visible to the caller (404 if
    not), looked up once per request."""

    kwargs: dict

    @property
    def tenant(self) -> Tenant:
        cached = getattr(self, "_tenant", None)
        if cached is None:
            cached = self._tenant = tenant_for(actor=self.principal, slug=self.kwargs["slug"])
        return cached
