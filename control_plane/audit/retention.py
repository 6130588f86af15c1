"""Chains whose oldest events were archived: where they start, and how they are verified.

`audit_archive` exports a chain's prefix, then appends an `audit.archive` event naming the
prefix's last sequence and hash and the Merkle frontier of the whole chain there, then deletes
the prefix through `audit_delete_archived` (migration 0003). The remaining chain is verified from
that anchor: its first event must follow the archived hash, and the Merkle roots of later
checkpoints are continued from the frontier.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain as concat
from typing import Any

from control_plane.audit.chain import BrokenLink, verify_chain
from control_plane.audit.models import AuditEvent

ARCHIVE_ACTION = "audit.archive"


def archive_anchors(chain: str | None = None) -> dict[str, dict[int, dict[str, Any]]]:
    """{chain: {through_sequence: the archive event's changes}}."""
    events = AuditEvent.objects.filter(action=ARCHIVE_ACTION)
    if chain is not None:
        events = events.filter(chain=chain)
    anchors: dict[str, dict[int, dict[str, Any]]] = {}
    for name, changes in events.values_list("chain", "changes"):
        through = changes.get("through_sequence") if isinstance(changes, dict) else None
        if isinstance(through, int):
            anchors.setdefault(name, {})[through] = changes
    return anchors


def verify_live_chain(
    chain: str,
    events: Iterator[Any],
    *,
    head: tuple[int, str] | None,
    anchors: dict[int, dict[str, Any]],
) -> BrokenLink | None:
    """The first broken link of a chain that may start after an archived prefix."""
    first = next(events, None)
    if first is None or first.sequence == 1:
        return verify_chain(chain, concat([first] if first else [], events), head=head)
    anchor = anchors.get(first.sequence - 1)
    if anchor is None:
        return BrokenLink(
            chain,
            first.sequence,
            first.id,
            f"the chain starts at sequence {first.sequence} and no audit.archive event covers "
            "the events before it: they were removed",
        )
    if first.prev_hash != anchor.get("through_hash"):
        return BrokenLink(
            chain,
            first.sequence,
            first.id,
            "prev_hash does not match the last archived event's hash",
        )
    return verify_chain(
        chain, concat([first], events), head=head, start=(first.sequence, first.prev_hash)
    )
