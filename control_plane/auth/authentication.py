"""`Authorization: Bearer <key>` for automation; the console uses Django sessions."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from control_plane.auth import api_keys, lockout
from control_plane.auth.principal import Principal, principal_for_user
from control_plane.request_context import source_address_of

# Recording every use would turn each API read into a write; a minute's precision is enough.
LAST_USED_PRECISION = timedelta(minutes=1)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request):
        from tenants.models import ApiKey

        header = authentication.get_authorization_header(request).decode(errors="replace")
        scheme, _, plaintext = header.partition(" ")
        if scheme != self.keyword:
            return None
        source = source_address_of(getattr(request, "_request", request))
        prefix = api_keys.prefix_of(plaintext.strip())
        identity = f"key {prefix or '(malformed)'}"
        if locked := lockout.locked_out(source=source, identity=identity):
            raise exceptions.Throttled(wait=locked.retry_after, detail=locked.message)
        if prefix is None:
            self._failed(request, source, identity)
            raise exceptions.AuthenticationFailed("Malformed API key.")
        # The user's platform role comes along: building the principal then needs one query
        # less on every request.
        key = ApiKey.objects.select_related("user__platform_role").filter(prefix=prefix).first()
        now = timezone.now()
        if key is None or not api_keys.matches(plaintext.strip(), key.secret_hash):
            self._failed(request, source, identity)
            raise exceptions.AuthenticationFailed("Unknown API key.")
        if key.revoked_at is not None:
            raise exceptions.AuthenticationFailed("This API key was revoked.")
        if key.expires_at is not None and key.expires_at <= now:
            raise exceptions.AuthenticationFailed("This API key has expired.")
        if not key.user.is_active:
            raise exceptions.AuthenticationFailed("The key's user is inactive.")
        if key.last_used_at is None or now - key.last_used_at > LAST_USED_PRECISION:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        return key.user, key

    @staticmethod
    def _failed(request: Request, source: str | None, identity: str) -> None:
        django_request = getattr(request, "_request", request)
        lockout.record_failure(
            source=source, identity=identity, request_id=getattr(django_request, "request_id", "")
        )

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


def principal_of(request: Request) -> Principal:
    """The caller of an API or console request, built once and cached on the request."""
    cached = getattr(request, "_principal", None)
    if cached is not None:
        return cached
    from tenants.models import ApiKey

    key = getattr(request, "auth", None)
    key = key if isinstance(key, ApiKey) else None
    django_request = getattr(request, "_request", request)
    principal = principal_for_user(
        request.user,
        api_key_id=key.pk if key else None,
        api_key_prefix=key.prefix if key else "",
        request_id=getattr(django_request, "request_id", ""),
        source_address=source_address_of(django_request),
    )
    request._principal = principal
    return principal
