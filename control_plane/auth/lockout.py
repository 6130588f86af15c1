"""Throttling failed sign-ins and API-key attempts, per source address and per key or user.

Counted in Django's cache (shared by every worker when `CACHE_URL` points at Redis; per process
with the embedded default). After `AUTH_FAILURE_LIMIT` failures within
`AUTH_FAILURE_WINDOW_SECONDS`, further attempts from that source, or for that key prefix or user,
are refused with 429 and `Retry-After` until the window ends, even with the right secret: a
brute force learns nothing. The moment a lockout starts is one audit event, not one per attempt.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from control_plane.audit.services import record
from control_plane.auth.principal import Principal


@dataclass(frozen=True)
class Lockout:
    subject: str
    retry_after: int

    @property
    def message(self) -> str:
        return (
            f"Too many failed attempts for {self.subject}; try again in {self.retry_after} seconds."
        )


def _keys(source: str | None, identity: str) -> list[tuple[str, str]]:
    subjects = [identity] + ([f"address {source}"] if source else [])
    return [(cache_key("auth-failures", subject), subject) for subject in subjects]


def cache_key(namespace: str, *parts: object) -> str:
    """A cache key safe for every backend (user input may hold spaces or any character)."""
    digest = hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).hexdigest()
    return f"{namespace}:{digest}"


def locked_out(*, source: str | None, identity: str) -> Lockout | None:
    for key, subject in _keys(source, identity):
        if (cache.get(key) or 0) >= settings.AUTH_FAILURE_LIMIT:
            return Lockout(subject, settings.AUTH_FAILURE_WINDOW_SECONDS)
    return None


def record_failure(*, source: str | None, identity: str, request_id: str = "") -> None:
    """Count a failed attempt; the one that reaches the limit is audited as a lockout."""
    window = settings.AUTH_FAILURE_WINDOW_SECONDS
    locked = []
    for key, subject in _keys(source, identity):
        cache.add(key, 0, timeout=window)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=window)
            count = 1
        if count == settings.AUTH_FAILURE_LIMIT:
            locked.append(subject)
    if locked:
        record(
            actor=Principal(kind="system", request_id=request_id, source_address=source),
            action="auth.lockout",
            target_type="credential",
            target_id=", ".join(locked),
            outcome="denied",
            reason=f"{settings.AUTH_FAILURE_LIMIT} failed attempts within {window} s; "
            f"locked for {window} s.",
        )
