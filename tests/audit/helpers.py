"""Writing events, and rewriting them as an attacker with the table owner's rights would."""

from __future__ import annotations

from django.db import connection

from control_plane.audit.chain import HASHED_FIELDS, event_hash
from control_plane.audit.models import AuditChainHead, AuditEvent
from control_plane.audit.services import record
from tests.factories import system


def write_events(count: int, tenant_slug: str = "acme", action: str = "test.event") -> list:
    return [
        record(
            actor=system(),
            action=action,
            target_type="thing",
            target_id=index,
            tenant_slug=tenant_slug,
            changes={"n": {"before": index, "after": index + 1}, "note": 'naïve, "quoted"\n'},
        )
        for index in range(count)
    ]


def rewrite_with_recomputed_hashes(chain: str, sequence: int, **changes) -> None:
    """Drop the triggers, change one event and recompute every later hash and the head: the
    chain walk then finds nothing wrong."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
    try:
        events = list(AuditEvent.objects.filter(chain=chain).order_by("sequence"))
        previous = events[sequence - 2].hash if sequence > 1 else None
        for event in events[sequence - 1 :]:
            if event.sequence == sequence:
                for name, value in changes.items():
                    setattr(event, name, value)
            if previous is not None:
                event.prev_hash = previous
            event.hash = event_hash({name: getattr(event, name) for name in HASHED_FIELDS})
            AuditEvent.objects.filter(pk=event.pk).update(
                **{name: getattr(event, name) for name in (*HASHED_FIELDS, "hash")}
            )
            previous = event.hash
        AuditChainHead.objects.filter(chain=chain).update(hash=previous)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER USER")
