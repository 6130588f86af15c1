"""Appending audit events. Services call `record` inside their own transaction, so the event
commits or rolls back with the change it describes; denied attempts are recorded on their own."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from control_plane.audit.chain import GENESIS_HASH, as_stored, event_hash
from control_plane.audit.models import PLATFORM_CHAIN, AuditChainHead, AuditEvent
from control_plane.auth.principal import Principal

REDACTED = "[redacted]"
_SECRET_MARKERS = ("secret", "token", "password", "key_hash", "plaintext", "credential")


def chain_of(tenant_slug: str) -> str:
    return f"tenant:{tenant_slug}" if tenant_slug else PLATFORM_CHAIN


def redact(value: Any) -> Any:
    """Replace the value of every key that names a secret, at any depth."""
    if isinstance(value, Mapping):
        return {
            key: REDACTED
            if any(marker in str(key).lower() for marker in _SECRET_MARKERS)
            else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    return value


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The changed fields as {field: {"before": old, "after": new}}."""
    return {
        name: {"before": before.get(name), "after": after.get(name)}
        for name in sorted(set(before) | set(after))
        if before.get(name) != after.get(name)
    }


def _lock_head(chain: str) -> AuditChainHead:
    """Lock the chain's head row, creating it on the chain's first event.

    The head is the last lock a write transaction takes (docs/decisions/0006-lock-order.md).
    The insert-if-absent runs only when the row is missing: an INSERT ... ON CONFLICT on an
    existing head waits for every transaction that updated it, which would take the head's
    lock before the row locks a caller already holds are settled.

    Django creates foreign keys DEFERRABLE INITIALLY DEFERRED on PostgreSQL, so the checks of
    rows inserted earlier in the transaction (a membership's or an endpoint's tenant) would run
    at COMMIT and take their KEY SHARE locks on the tenant row after the head's lock: a cycle
    with a writer that holds the tenant and waits for the head. Running the pending checks now
    (`SET CONSTRAINTS ALL IMMEDIATE` is retroactive) keeps the head the last lock taken.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    head = AuditChainHead.objects.select_for_update().filter(chain=chain).first()
    if head is not None:
        return head
    AuditChainHead.objects.bulk_create(
        [AuditChainHead(chain=chain, sequence=0, hash=GENESIS_HASH)], ignore_conflicts=True
    )
    return AuditChainHead.objects.select_for_update().get(chain=chain)


def record(
    *,
    actor: Principal,
    action: str,
    target_type: str,
    target_id: str | int,
    tenant_slug: str = "",
    changes: Mapping[str, Any] | None = None,
    outcome: str = AuditEvent.Outcome.SUCCESS,
    reason: str = "",
) -> AuditEvent:
    """Append an event to its chain. Call it last in a transaction: it locks the chain head,
    and nothing may be locked after it (docs/decisions/0006-lock-order.md)."""
    chain = chain_of(tenant_slug)
    with transaction.atomic():
        head = _lock_head(chain)
        fields: dict[str, Any] = {
            "chain": chain,
            "sequence": head.sequence + 1,
            "occurred_at": timezone.now(),
            "actor_type": actor.kind,
            "actor": actor.label,
            "actor_user_id": actor.user.pk if actor.user is not None else None,
            "api_key_prefix": actor.api_key_prefix,
            "tenant_slug": tenant_slug,
            "action": action,
            "target_type": target_type,
            "target_id": str(target_id),
            "request_id": actor.request_id,
            "source_address": actor.source_address,
            "changes": as_stored(redact(dict(changes or {}))),
            "outcome": outcome,
            "reason": reason,
            "prev_hash": head.hash,
        }
        event = AuditEvent.objects.create(**fields, hash=event_hash(fields))
        AuditChainHead.objects.filter(chain=chain).update(sequence=event.sequence, hash=event.hash)
    return event


def record_denied(
    *,
    actor: Principal,
    action: str,
    target_type: str,
    target_id: str | int,
    tenant_slug: str = "",
    reason: str,
) -> AuditEvent:
    return record(
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
        tenant_slug=tenant_slug,
        outcome=AuditEvent.Outcome.DENIED,
        reason=reason,
    )
