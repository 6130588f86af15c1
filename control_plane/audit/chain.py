"""Hashing and verification of audit chains."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

GENESIS_HASH = "0" * 64
HASHED_FIELDS = (
    "chain",
    "sequence",
    "occurred_at",
    "actor_type",
    "actor",
    "actor_user_id",
    "api_key_prefix",
    "tenant_slug",
    "action",
    "target_type",
    "target_id",
    "request_id",
    "source_address",
    "changes",
    "outcome",
    "reason",
    "prev_hash",
)


# Python writes floats from 1e16 up in exponent form (`1e+16`); PostgreSQL's jsonb keeps numbers
# as `numeric` and gives them back as digits (`10000000000000000`, read back as an int), and has
# no negative zero. Such values are stored as jsonb will answer them, or the hash taken at write
# time would not match the row read back.
_EXPONENT_FORM = 1e16


def as_stored(value: Any) -> Any:
    """`value` as PostgreSQL's jsonb gives it back: integral floats from 1e16 up as ints, -0.0
    as 0.0, at any depth."""
    if isinstance(value, float):
        if value == 0.0:
            return 0.0
        if abs(value) >= _EXPONENT_FORM and value.is_integer():
            return int(value)
        return value
    if isinstance(value, dict):
        return {key: as_stored(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [as_stored(item) for item in value]
    return value


def _canonical(value: Any) -> Any:
    return value.isoformat(timespec="microseconds") if isinstance(value, datetime) else value


def event_hash(fields: dict[str, Any]) -> str:
    payload = {name: _canonical(fields[name]) for name in HASHED_FIELDS}
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(encoded.encode()).hexdigest()


@dataclass(frozen=True)
class BrokenLink:
    chain: str
    sequence: int
    event_id: int
    problem: str


def verify_chain(
    chain: str,
    events: Iterable[Any],
    *,
    head: tuple[int, str] | None = None,
    start: tuple[int, str] = (1, GENESIS_HASH),
) -> BrokenLink | None:
    """The first broken link of one chain, given its events in sequence order; None if intact.

    `head` is the recorded (sequence, hash) of the chain's last link: without it, deleting the
    newest events would go unnoticed. `start` is the (sequence, previous hash) the first event
    must have: the genesis, or the end of an archived prefix (control_plane/audit/retention.py).
    """
    expected_sequence, expected_prev = start
    last_id = 0
    for event in events:
        last_id = event.id
        fields = {name: getattr(event, name) for name in HASHED_FIELDS}
        if event.sequence != expected_sequence:
            return BrokenLink(
                chain,
                event.sequence,
                event.id,
                f"sequence {event.sequence} follows {expected_sequence - 1}: events are missing",
            )
        if event.prev_hash != expected_prev:
            return BrokenLink(
                chain, event.sequence, event.id, "prev_hash does not match the previous event"
            )
        if event_hash(fields) != event.hash:
            return BrokenLink(
                chain, event.sequence, event.id, "content does not match its hash (edited)"
            )
        expected_prev, expected_sequence = event.hash, expected_sequence + 1
    if head is not None and head != (expected_sequence - 1, expected_prev):
        return BrokenLink(
            chain,
            head[0],
            last_id,
            f"the chain ends at sequence {expected_sequence - 1} but its head records "
            f"{head[0]}: the newest events were removed or replaced",
        )
    return None
