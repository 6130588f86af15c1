"""Refusing an action: record the denied attempt in the audit trail, then raise.

Called before a service opens its transaction, so the denied event is kept even though the
attempted change is not.
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache

from control_plane.audit.services import record_denied
from control_plane.auth.lockout import cache_key
from control_plane.auth.principal import Principal
from control_plane.errors import PermissionDenied


def require(
    allowed: bool,
    *,
    actor: Principal,
    action: str,
    target_type: str,
    target_id: str | int,
    tenant_slug: str = "",
    reason: str,
) -> None:
    if allowed:
        return
    repeats = _repeats_since_last_record(actor, action, target_type, target_id)
    if repeats is not None:
        record_denied(
            actor=actor,
            action=action,
            target_type=target_type,
            target_id=target_id,
            tenant_slug=tenant_slug,
            reason=reason + (f" ({repeats} more denied in the previous window)" if repeats else ""),
        )
    raise PermissionDenied(reason)


def _repeats_since_last_record(
    actor: Principal, action: str, target_type: str, target_id: str | int
) -> int | None:
    """None when this denial repeats one recorded less than AUDIT_DENIED_AGGREGATE_SECONDS ago
    (it is only counted); otherwise how many such repeats the window before held. A client
    looping on a 403 leaves one event per window, not one per request."""
    window = settings.AUDIT_DENIED_AGGREGATE_SECONDS
    if window <= 0:
        return 0
    key = cache_key("denied", actor.label, actor.api_key_prefix, action, target_type, target_id)
    if not cache.add(key, 1, timeout=window):
        cache.add(f"{key}:repeats", 0, timeout=window * 2)
        try:
            cache.incr(f"{key}:repeats")
        except ValueError:
            cache.set(f"{key}:repeats", 1, timeout=window * 2)
        return None
    repeats = cache.get(f"{key}:repeats", 0)
    if repeats:
        cache.delete(f"{key}:repeats")
    return repeats
