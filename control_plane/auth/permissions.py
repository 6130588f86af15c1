"""Refusing an action: record the denied attempt in the audit trail, then raise.

Called before a service opens its transaction, so the denied event is kept even though the
attempted change is not.
"""

from __future__ import annotations

from control_plane.audit.services import record_denied
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
    record_denied(
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
        tenant_slug=tenant_slug,
        reason=reason,
    )
    raise PermissionDenied(reason)
