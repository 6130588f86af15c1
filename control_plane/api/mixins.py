"""Shared pieces of the API views."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.request import Request

from control_plane.auth.principal import Principal


def principal_of(request: Request) -> Principal:
    """The caller, as the authentication class that accepted the request built it: the
    project's classes answer DRF's (user, auth) with the Principal as `auth`
    (tenants.authentication), so the kernel needs no knowledge of where roles are stored."""
    principal = request.auth
    if not isinstance(principal, Principal):
        raise exceptions.NotAuthenticated()
    return principal


class PrincipalMixin:
    request: Request

    @property
    def principal(self) -> Principal:
        return principal_of(self.request)
