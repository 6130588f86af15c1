"""Audit exports: the bytes of a CSV or JSON Lines export and the manifest that describes them.

Pure functions over rows in `COLUMNS` order; the rows come from `selectors.audit_export_rows`.
The encoding is deterministic, so the manifest route can compute the digest of an export it
streamed earlier by encoding the same bounded rows again (docs/decisions/0010).
"""

from __future__ import annotations

import binascii
import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from control_plane.audit.merkle import MerkleBuilder, leaf_hash
from control_plane.audit.pg_text import csv_field, json_string, jsonb_text

MANIFEST_VERSION = 1
SOFTWARE = "llm-control-plane audit export v1"
# Every stored field, the event's own hash and its predecessor's, in this order in both formats.
COLUMNS = (
    "id",
    "occurred_at",
    "chain",
    "sequence",
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
    "hash",
)
FORMATS = ("csv", "jsonl")
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}
CSV_HEADER = ",".join(COLUMNS) + "\n"
_CHANGES = COLUMNS.index("changes")
_OCCURRED_AT = COLUMNS.index("occurred_at")
_ID, _HASH = COLUMNS.index("id"), COLUMNS.index("hash")
_FLUSH_BYTES = 64 * 1024
# One encoder for every row: json.dumps with options builds a new one per call.
_encode_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


@dataclass(frozen=True)
class ExportSpec:
    """What an export holds: its filters and the pins that make it repeatable (events with an
    id up to `max_event_id` that occurred before `until`)."""

    format: str
    until: datetime
    max_event_id: int
    since: datetime | None = None
    tenant: str | None = None
    action: str | None = None
    actor: str | None = None
    outcome: str | None = None

    def filters(self) -> dict[str, str | None]:
        return {
            "tenant": self.tenant,
            "action": self.action,
            "actor": self.actor,
            "outcome": self.outcome,
        }

    def time_range(self) -> dict[str, str | None]:
        return {
            "since": _iso(self.since) if self.since is not None else None,
            "until": _iso(self.until),
        }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


class ExportDigest:
    """Everything the manifest says about the rows, gathered while they are encoded.

    Event hashes arrive a chunk of rows at a time. The Merkle tree is built a block of
    `_MERKLE_BLOCK` leaves at a time: RFC 6962's tree splits at powers of two, so the tree over
    all leaves is the tree over the blocks' roots (the last, partial block's root last). Hashing
    a block level by level in comprehensions halved the time of adding leaves one by one, which
    was a third of a JSON Lines export's Python time.
    """

    def __init__(self) -> None:
        self._sha256 = hashlib.sha256()
        self._blocks = MerkleBuilder()
        self._leaf_hashes: list[bytes] = []
        self.row_count = 0
        self.first_event_id: int | None = None
        self.last_event_id: int | None = None

    def add_bytes(self, chunk: bytes) -> None:
        self._sha256.update(chunk)

    def add_events(self, first_id: int, last_id: int, hashes: list[bytes]) -> None:
        """A run of consecutive exported events: the first and last ids and every event's hash
        as ASCII hex, in order."""
        if not hashes:
            return
        if self.first_event_id is None:
            self.first_event_id = first_id
        self.last_event_id = last_id
        self.row_count += len(hashes)
        self._leaf_hashes.extend(_leaf_hashes(hashes))
        full = len(self._leaf_hashes) - len(self._leaf_hashes) % _MERKLE_BLOCK
        for start in range(0, full, _MERKLE_BLOCK):
            self._blocks.add_hash(_perfect_root(self._leaf_hashes[start : start + _MERKLE_BLOCK]))
        del self._leaf_hashes[:full]

    @property
    def sha256(self) -> str:
        return self._sha256.hexdigest()

    @property
    def merkle_root(self) -> str:
        if not self._leaf_hashes:
            return self._blocks.root()
        tail = MerkleBuilder()
        for hashed in self._leaf_hashes:
            tail.add_hash(hashed)
        tree = MerkleBuilder.from_frontier(self._blocks.size, self._blocks.frontier())
        tree.add_hash(bytes.fromhex(tail.root()))
        return tree.root()


_MERKLE_BLOCK = 256  # a power of two
_HEX_DIGITS = re.compile(rb"[0-9a-f]*")


def _leaf_hashes(hashes: list[bytes]) -> list[bytes]:
    """RFC 6962 leaf hashes of event hashes given in hex. A stored hash that is not 64 lowercase
    hex digits (a tampered row) is the empty leaf, as the verifier takes it."""
    joined = b"".join(hashes)
    if len(joined) != 64 * len(hashes) or _HEX_DIGITS.fullmatch(joined) is None:
        return [leaf_hash(_leaf(value)) for value in hashes]
    raw = binascii.unhexlify(joined)
    sha256 = hashlib.sha256
    return [sha256(b"\x00" + raw[i : i + 32]).digest() for i in range(0, len(raw), 32)]


def _leaf(value: bytes) -> bytes:
    if len(value) == 64 and _HEX_DIGITS.fullmatch(value) is not None:
        return binascii.unhexlify(value)
    return b""


def _perfect_root(level: list[bytes]) -> bytes:
    sha256 = hashlib.sha256
    while len(level) > 1:
        pairs = zip(level[::2], level[1::2], strict=True)
        level = [sha256(b"\x01" + left + right).digest() for left, right in pairs]
    return level[0]


def _hex_hash(value: str) -> bytes:
    return value.encode("ascii", "replace")


def _csv_line(row: tuple) -> str:
    values = list(row)
    values[_OCCURRED_AT] = values[_OCCURRED_AT].isoformat(timespec="microseconds")
    values[_CHANGES] = jsonb_text(json.loads(values[_CHANGES]))
    return ",".join([csv_field(value) for value in values]) + "\n"


def _jsonl_line(row: tuple) -> str:
    values = list(row)
    values[_OCCURRED_AT] = values[_OCCURRED_AT].isoformat(timespec="microseconds")
    # `changes` is spliced in as jsonb writes it, between the columns before and after it.
    before = dict(zip(COLUMNS[:_CHANGES], values[:_CHANGES], strict=True))
    after = dict(zip(COLUMNS[_CHANGES + 1 :], values[_CHANGES + 1 :], strict=True))
    head, tail = _encode_json(before), _encode_json(after)
    changes = jsonb_text(json.loads(values[_CHANGES]))
    return f'{head[:-1]},"changes":{changes},{tail[1:]}\n'


def encode(rows: Iterable[tuple], export_format: str, digest: ExportDigest) -> Iterator[bytes]:
    """The export's bytes in chunks of about `_FLUSH_BYTES`, feeding `digest` on the way. Rows
    are in `COLUMNS` order with `changes` as JSON text (any database's). The bytes are those
    `encode_copied` makes of PostgreSQL's COPY of the same events."""
    if export_format not in FORMATS:
        raise ValueError(f"unknown export format {export_format!r}")
    line = _csv_line if export_format == "csv" else _jsonl_line
    lines: list[str] = [CSV_HEADER] if export_format == "csv" else []
    hashes: list[bytes] = []
    first_id, last_id, size = None, None, 0
    for row in rows:
        text = line(row)
        lines.append(text)
        hashes.append(_hex_hash(row[_HASH]))
        first_id = row[_ID] if first_id is None else first_id
        last_id, size = row[_ID], size + len(text)
        if size >= _FLUSH_BYTES:
            yield _flush(digest, "".join(lines).encode(), first_id, last_id, hashes)
            lines, hashes, first_id, size = [], [], None, 0
    if lines:
        yield _flush(digest, "".join(lines).encode(), first_id, last_id, hashes)


def _flush(
    digest: ExportDigest, chunk: bytes, first_id: Any, last_id: Any, hashes: list[bytes]
) -> bytes:
    digest.add_events(first_id, last_id, hashes)
    digest.add_bytes(chunk)
    return chunk


def encode_copied(
    rows: Iterable[bytes], export_format: str, digest: ExportDigest
) -> Iterator[bytes]:
    """The export's bytes from the rows of `selectors.audit_export_copy_rows` (a COPY message
    per row), in chunks of about `_FLUSH_BYTES`, feeding `digest`.

    CSV rows are PostgreSQL's own lines; Python reads only each row's hash. JSON Lines rows are
    the values in `COPY_JSONL_COLUMNS` order in COPY's text format, and Python writes the JSON
    around them: PostgreSQL builds JSON (json_build_object, row_to_json, to_json per value) at
    two to three times the cost of CSV, while PostgreSQL's formatting and Python's run at once
    on two processes."""
    if export_format not in FORMATS:
        raise ValueError(f"unknown export format {export_format!r}")
    csv_format = export_format == "csv"
    batch: list[bytes] = []
    size = 0
    if csv_format:
        header = CSV_HEADER.encode()
        digest.add_bytes(header)
        yield header
    for row in rows:
        batch.append(row)
        size += len(row)
        if size >= _FLUSH_BYTES:
            yield _copied_chunk(batch, csv_format, digest)
            batch, size = [], 0
    if batch:
        yield _copied_chunk(batch, csv_format, digest)


def _copied_chunk(batch: list[bytes], csv_format: bool, digest: ExportDigest) -> bytes:
    if csv_format:
        # `id,...,<prev_hash>,<hash>\n`: neither the id nor the hash is ever quoted.
        lines, hashes = batch, [row[-65:-1] for row in batch]
        first_id, last_id = (int(row[: row.index(b",")]) for row in (batch[0], batch[-1]))
    else:
        fields = [_jsonl_copied_fields(row) for row in batch]
        lines = [_JSONL_LINE % values for values in fields]
        hashes = [values[-1] for values in fields]
        first_id, last_id = int(fields[0][0]), int(fields[-1][0])
    digest.add_events(first_id, last_id, hashes)
    chunk = b"".join(lines)
    digest.add_bytes(chunk)
    return chunk


# Where each value of a COPY row of JSON Lines goes: the columns in order, `changes` moved last.
COPY_JSONL_COLUMNS = (*COLUMNS[:_CHANGES], *COLUMNS[_CHANGES + 1 :], "changes")
_QUOTED = frozenset(COLUMNS) - {"id", "sequence", "actor_user_id", "source_address", "changes"}
_JSONL_LINE = (
    "{"
    + ",".join(f'"{name}":"%s"' if name in _QUOTED else f'"{name}":%s' for name in COLUMNS)
    + "}\n"
).encode()
# A value holding one of these needs JSON escaping (a quote, a control character) or undoing
# COPY's (a backslash); tabs separate the values. Most rows hold none.
_COPY_TEXT_SPECIAL = re.compile(rb'[\x00-\x08\x0a-\x1f"\\]')
_COPY_TEXT_ESCAPE = re.compile(rb"\\(.)")
_COPY_TEXT_ESCAPES = {
    b"b": b"\b",
    b"f": b"\f",
    b"n": b"\n",
    b"r": b"\r",
    b"t": b"\t",
    b"v": b"\v",
}
_ADDRESS = COLUMNS.index("source_address")


def _jsonl_copied_fields(row: bytes) -> tuple[bytes, ...]:
    """The values of `_JSONL_LINE` from one COPY row: text values JSON-escaped, `source_address`
    quoted or null, `changes` (jsonb's JSON text, whose only COPY escape is a doubled backslash)
    in its place. Nullable columns come as text that is never COPY's NULL (`\\N`): the user id
    as its JSON, the address empty for none."""
    values, _, changes = row.rpartition(b"\t")
    fields = values.split(b"\t")
    if _COPY_TEXT_SPECIAL.search(values) is not None:
        fields = [
            _json_escaped(value) if name in _QUOTED else value
            for name, value in zip(COPY_JSONL_COLUMNS[:-1], fields, strict=True)
        ]
    address = fields[_ADDRESS]
    fields[_ADDRESS] = b'"' + address + b'"' if address else b"null"
    if b"\\" in changes:
        changes = changes.replace(b"\\\\", b"\\")
    fields.insert(_CHANGES, changes[:-1])
    return tuple(fields)


def _json_escaped(value: bytes) -> bytes:
    """A COPY text value as the inside of a JSON string."""
    if b"\\" in value:
        value = _COPY_TEXT_ESCAPE.sub(lambda m: _COPY_TEXT_ESCAPES.get(m[1], m[1]), value)
    return json_string(value.decode())[1:-1].encode()


def build_manifest(
    *,
    spec: ExportSpec,
    digest: ExportDigest,
    chain_heads: dict[str, dict[str, Any]],
    generated_by: dict[str, str],
    generated_at: datetime,
) -> dict[str, Any]:
    """The unsigned manifest of an export whose bytes went through `digest`."""
    return {
        "kind": "audit-export-manifest",
        "version": MANIFEST_VERSION,
        "format": spec.format,
        "columns": list(COLUMNS),
        "filters": spec.filters(),
        "time_range": spec.time_range(),
        "max_event_id": spec.max_event_id,
        "row_count": digest.row_count,
        "sha256": digest.sha256,
        "first_event_id": digest.first_event_id,
        "last_event_id": digest.last_event_id,
        "chain_heads": chain_heads,
        "merkle_root": digest.merkle_root,
        "generated_by": {**generated_by, "software": SOFTWARE},
        "generated_at": _iso(generated_at),
    }
