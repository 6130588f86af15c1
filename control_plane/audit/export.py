"""Audit exports: the bytes of a CSV or JSON Lines export and the manifest that describes them.

Pure functions over rows: PostgreSQL's COPY of them (`encode_copied`, from
`selectors.audit_export_copy_batches`) or the ORM's (`encode`, from `selectors.audit_export_rows`,
for other databases), which give the same bytes. The encoding is deterministic, so the manifest
route can compute the digest of an export it streamed earlier by encoding the same bounded rows
again (docs/decisions/0010).
"""

from __future__ import annotations

import binascii
import functools
import hashlib
import itertools
import json
import re
import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from control_plane.audit.merkle import MerkleBuilder, leaf_hash, small_sha256
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
_ADDRESS = COLUMNS.index("source_address")
_FLUSH_BYTES = 64 * 1024
# The rows COPY sends are encoded in batches of about this many bytes: CSV's chunks are as
# large, JSON Lines' about 1.75 times.
COPY_BATCH_BYTES = _FLUSH_BYTES
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
    a block level by level in comprehensions takes 1.8 µs a leaf where adding leaves one by one
    took 4.8, nearly half of a JSON Lines export's Python time then.
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
    # Each leaf's input, 0x00 and the hash, cut out of one buffer by one struct call, and the
    # hashing mapped in C: no Python code runs per leaf.
    inputs = _records(len(hashes), 33)(binascii.unhexlify(b"00" + b"00".join(hashes)))
    return list(map(_digest, map(small_sha256, inputs)))


def _leaf(value: bytes) -> bytes:
    if len(value) == 64 and _HEX_DIGITS.fullmatch(value) is not None:
        return binascii.unhexlify(value)
    return b""


def _perfect_root(level: list[bytes]) -> bytes:
    while len(level) > 1:
        pairs = len(level) // 2
        parts = [b"\x01", b"", b""] * pairs
        parts[1::3], parts[2::3] = level[::2], level[1::2]
        level = list(map(_digest, map(small_sha256, _records(pairs, 65)(b"".join(parts)))))
    return level[0]


@functools.lru_cache(maxsize=64)
def _records(count: int, size: int) -> Callable[[bytes], tuple[bytes, ...]]:
    """Cuts `count` records of `size` bytes out of a buffer (a few distinct counts a run)."""
    return struct.Struct(f"{size}s" * count).unpack


_digest = type(small_sha256(b"")).digest


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
    batches: Iterable[list[bytes]], export_format: str, digest: ExportDigest
) -> Iterator[bytes]:
    """The export's bytes from the batches of rows of `selectors.audit_export_copy_batches` (a
    COPY message a row, bytes-like), a chunk a batch, feeding `digest`.

    CSV rows are PostgreSQL's own lines. JSON Lines rows are the values of a line in COPY's
    text format, which Python puts the JSON around (`_copied_jsonl_chunk`). Either way Python
    reads each row's hash for the Merkle tree."""
    if export_format not in FORMATS:
        raise ValueError(f"unknown export format {export_format!r}")
    csv_format = export_format == "csv"
    if csv_format:
        header = CSV_HEADER.encode()
        digest.add_bytes(header)
        yield header
    for batch in batches:
        if batch:
            yield _copied_chunk(batch, csv_format, digest)


def _copied_chunk(batch: list[bytes], csv_format: bool, digest: ExportDigest) -> bytes:
    if csv_format:
        # `id,...,<prev_hash>,<hash>\n`: neither the id nor the hash is ever quoted.
        chunk = b"".join(batch)
        hashes = [chunk[end - 65 : end - 1] for end in itertools.accumulate(map(len, batch))]
        last_row = bytes(batch[-1])
        first_id, last_id = int(chunk[: chunk.index(b",")]), int(last_row[: last_row.index(b",")])
    else:
        chunk, values = _copied_jsonl_chunk(batch)
        hashes = values[_HASH::_WIDTH]
        first_id, last_id = int(values[_ID]), int(values[_ID - _WIDTH])
    digest.add_events(first_id, last_id, hashes)
    digest.add_bytes(chunk)
    return chunk


# JSON Lines through COPY. PostgreSQL sends the export's columns in COPY's text format, a tab
# between values and a newline after each row, which costs it about what CSV does: building
# JSON in SQL (json_build_object, row_to_json, to_json per value) cost two to three times CSV,
# and gluing the JSON text to each value in SQL (`'"chain":"' || chain`) half as much again,
# since COPY then writes and escapes 1.75 times the bytes. Python puts the JSON between the
# values (`_GLUES`) a chunk of rows at a time, with bytes and list operations over the whole
# chunk rather than code per row, so it keeps up with PostgreSQL on the second core. COPY never
# leaves a tab or a newline in a value (it writes `\t` and `\n`), so they tell the values apart.
_UNQUOTED = {"id", "sequence", "actor_user_id", "source_address", "changes"}


def _glue(index: int) -> str:
    """The text between the value of COLUMNS[index - 1] (or the start) and COLUMNS[index]'s
    (or the end, at len(COLUMNS))."""
    closing = '"' if index > 0 and COLUMNS[index - 1] not in _UNQUOTED else ""
    if index == len(COLUMNS):
        return closing + "}"
    opening = '"' if COLUMNS[index] not in _UNQUOTED else ""
    return closing + ("{" if index == 0 else ",") + f'"{COLUMNS[index]}":' + opening


_GLUES = [_glue(index).encode() for index in range(len(COLUMNS) + 1)]
_WIDTH = len(COLUMNS)
# A chunk's lines as a list: the glue before each value, then the value, row after row. The
# glue before a row's id closes the previous line, except in the chunk's first row.
_ROW_PARTS = [
    part for glue in [_GLUES[-1] + b"\n" + _GLUES[0], *_GLUES[1:-1]] for part in (glue, b"")
]
_LAST_GLUE = _GLUES[-1] + b"\n"
# The values JSON writes as strings; the others are numbers, null, an address PostgreSQL
# quoted (`jsonl_copy_values`) or jsonb's JSON text.
_QUOTED = [index for index, name in enumerate(COLUMNS) if name not in _UNQUOTED]
# Raw control characters (COPY escapes only \b \f \n \r \t \v): JSON escapes every one. Tabs
# and newlines are COPY's separators.
_CONTROLS = bytes(code for code in range(32) if code not in (9, 10))
_NEEDS_ESCAPING = re.compile(rb'["\\\x00-\x1f]')
_COPY_TEXT_ESCAPE = re.compile(rb"\\(.)")
_COPY_TEXT_ESCAPES = {
    b"b": b"\b",
    b"f": b"\f",
    b"n": b"\n",
    b"r": b"\r",
    b"t": b"\t",
    b"v": b"\v",
}


def jsonl_copy_values(values: dict[str, str]) -> list[str]:
    """The SQL of the columns of JSON Lines to COPY in text format, given each column's SQL:
    the values as they are, but for the nullable ones, which come as their JSON (`null`, a
    number, a quoted address): COPY would write a NULL as `\\N`."""
    nullable = {
        "actor_user_id": f"COALESCE(({values['actor_user_id']})::text, 'null')",
        "source_address": f"""COALESCE('"' || ({values["source_address"]}) || '"', 'null')""",
    }
    return [nullable.get(name, values[name]) for name in COLUMNS]


def _copied_jsonl_chunk(batch: list[bytes]) -> tuple[bytes, list[bytes]]:
    """JSON Lines from rows of `jsonl_copy_values`, and the rows' values (`COLUMNS` a row).

    The values outside `changes` need escaping only if they hold a quote, a backslash (COPY's
    escapes included) or a raw control character, which the counts over the chunk tell apart
    from those of `changes` and of the quoted addresses; then only the columns that hold one
    are escaped, value by value. `changes` is jsonb's JSON text, in which COPY doubled each
    backslash."""
    rows = b"".join(batch)
    values = rows.replace(b"\n", b"\t").split(b"\t")
    del values[-1]  # after the last newline
    changes = values[_CHANGES::_WIDTH]
    changes_text = b"".join(changes)
    if (
        rows.count(b'"')
        != changes_text.count(b'"') + b"".join(values[_ADDRESS::_WIDTH]).count(b'"')
        or rows.count(b"\\") != changes_text.count(b"\\")
        or len(rows.translate(None, _CONTROLS)) != len(rows)
    ):
        _escape_text_values(values)
    if b"\\" in changes_text:
        values[_CHANGES::_WIDTH] = [value.replace(b"\\\\", b"\\") for value in changes]
    parts = _ROW_PARTS * len(batch)
    parts[0] = _GLUES[0]
    parts[1::2] = values
    parts.append(_LAST_GLUE)
    return b"".join(parts), values


def _escape_text_values(values: list[bytes]) -> None:
    for index in _QUOTED:
        column = values[index::_WIDTH]
        if _NEEDS_ESCAPING.search(b"".join(column)) is not None:
            values[index::_WIDTH] = [_json_escaped(value) for value in column]


def _json_escaped(value: bytes) -> bytes:
    """A COPY text value as the inside of a JSON string."""
    if _NEEDS_ESCAPING.search(value) is None:
        return value
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
