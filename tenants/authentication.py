"""Who calls the API: `Authorization: Bearer <key>` for automation, the Django session for the
console's browser. Each authentication class answers DRF's (user, auth) with the caller's
Principal as `auth`, so the kernel's views read the caller from `request.auth`
(control_plane.api.mixins.principal_of) without knowing where roles are stored."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import User
from django.utils import timezone
from drf_spectacular.authentication import SessionScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from control_plane.auth import api_keys, lockout
from control_plane.auth.principal import Principal
from control_plane.compiled_queries import CompiledQuery
from control_plane.request_context import source_address_of
from tenants.models import ApiKey
from tenants.principals import principal_for_user

# Recording every use would turn each API read into a write; a minute's precision is enough.
LAST_USED_PRECISION = timedelta(minutes=1)

# The user's platform role comes along: building the principal then needs one query less on
# every request. Compiled once: every API request runs it (control_plane/compiled_queries.py).
_KEY_BY_PREFIX: CompiledQuery[ApiKey] = CompiledQuery(
    lambda prefix: ApiKey.objects.select_related("user__platform_role").filter(prefix=prefix),
    prefix=str,
)


def _principal(request: Request, user: User, key: ApiKey | None = None) -> Principal:
    django_request = getattr(request, "_request", request)
    return principal_for_user(
        user,
        api_key_id=key.pk if key else None,
        api_key_prefix=key.prefix if key else "",
        request_id=getattr(django_request, "request_id", ""),
        source_address=source_address_of(django_request),
    )


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[User, Principal] | None:
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
        # The prefix is unique: one row at most.
        key = next(iter(_KEY_BY_PREFIX(prefix=prefix)), None)
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
        return key.user, _principal(request, key.user, key)

    @staticmethod
    def _failed(request: Request, source: str | None, identity: str) -> None:
        django_request = getattr(request, "_request", request)
        lockout.record_failure(
            source=source, identity=identity, request_id=getattr(django_request, "request_id", "")
        )

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class SessionAuthentication(authentication.SessionAuthentication):
    """DRF's session authentication (CSRF enforced), answering the person's Principal."""

    def authenticate(self, request: Request) -> tuple[User, Principal] | None:
        accepted = super().authenticate(request)
        if accepted is None:
            return None
        user, _ = accepted
        return user, _principal(request, user)


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "apiKey"

    def get_security_definition(self, auto_schema) -> dict:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key: `Authorization: Bearer cpk_<prefix>_<secret>`.",
        }


class SessionAuthenticationScheme(SessionScheme):
    # drf-spectacular's cookieAuth scheme matches DRF's class only, not its subclasses.
    target_class = SessionAuthentication
