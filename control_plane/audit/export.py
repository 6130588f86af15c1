"""Audit exports: the bytes of a CSV or JSON Lines export and the manifest that describes them.

Pure functions over rows: PostgreSQL's COPY of them (`encode_copied`, from
`selectors.audit_export_copy_rows`) or the ORM's (`encode`, from `selectors.audit_export_rows`,
for other databases), which give the same bytes. The encoding is deterministic, so the manifest
route can compute the digest of an export it streamed earlier by encoding the same bounded rows
again (docs/decisions/0010).
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

    CSV rows are PostgreSQL's own lines. JSON Lines rows are the pieces of a line
    (`jsonl_copy_columns`), which Python checks and joins (`_copied_jsonl_line`). Either way
    Python reads each row's hash for the Merkle tree."""
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
        chunk, hashes = b"".join(batch), [row[-65:-1] for row in batch]
    else:
        chunk = _copied_jsonl_chunk(batch)
        hashes = _HASH_VALUE.findall(chunk)
    first_id, last_id = (int(_ID_VALUE.match(row)[1]) for row in (batch[0], batch[-1]))
    digest.add_events(first_id, last_id, hashes)
    digest.add_bytes(chunk)
    return chunk


# JSON Lines through COPY. PostgreSQL sends each line as columns, each a value with the text
# before it (the glue), and COPY's text format puts a tab between columns; it never leaves a
# tab in a value (it writes `\t`), so the tabs tell the values apart. PostgreSQL builds JSON
# (json_build_object, row_to_json, to_json per value) at two to three times the cost of CSV,
# and a Python template per row cost as much again; the glue costs it about a third more than
# CSV, and Python only takes the tabs out of a row that needs no escaping.
_UNQUOTED = {"id", "sequence", "actor_user_id", "source_address", "changes"}


def _glue(index: int) -> str:
    """The text between the value of COLUMNS[index - 1] (or the start) and COLUMNS[index]'s
    (or the end, at len(COLUMNS))."""
    closing = '"' if index > 0 and COLUMNS[index - 1] not in _UNQUOTED else ""
    if index == len(COLUMNS):
        return closing + "}"
    opening = '"' if COLUMNS[index] not in _UNQUOTED else ""
    return closing + ("{" if index == 0 else ",") + f'"{COLUMNS[index]}":' + opening


_GLUES = [_glue(index) for index in range(len(COLUMNS) + 1)]
_TEXT_VALUES = set(COLUMNS) - _UNQUOTED - {"occurred_at"}
_FLAGGED = ("X" + _GLUES[0]).encode()
_ID_VALUE = re.compile(rb'X?(?:{"id":)?(\d+)')
# A line ends with its hash; `changes` writes `": "`, so no key inside it matches.
_HASH_VALUE = re.compile(rb'"hash":"([^"]*)"}\n')
# Each line again, with the values in place, for the rows that need escaping.
_JSONL_LINE = ("%s".join(_GLUES) + "\n").encode()
_GLUE_LENGTHS = [len(glue.encode()) for glue in _GLUES]
_CHANGES_PIECE = ("\t" + _GLUES[_CHANGES]).encode()
# Quotes outside `changes` when the address is null; a (quoted) address adds two.
_GLUE_QUOTES = sum(glue.count('"') for glue in _GLUES) - _GLUES[_CHANGES].count('"')
# Raw control characters (COPY escapes only \b \f \n \r \t \v): JSON escapes every one. Tabs
# are the separators and the row ends with a newline.
_CONTROLS = bytes(code for code in range(32) if code not in (9, 10))
_COPY_TEXT_ESCAPE = re.compile(rb"\\(.)")
_COPY_TEXT_ESCAPES = {
    b"b": b"\b",
    b"f": b"\f",
    b"n": b"\n",
    b"r": b"\r",
    b"t": b"\t",
    b"v": b"\v",
}


def jsonl_copy_columns(values: dict[str, str]) -> list[str]:
    """The SQL of the columns of one JSON Lines row to COPY, given each column's SQL: JSON text
    for the unquoted columns (NULL as `null`), raw text for the others. The first starts with
    an X when a text value holds a quote or a backslash, which most rows do not."""
    texts = " || ".join(f"({values[name]})" for name in COLUMNS if name in _TEXT_VALUES)
    flag = f"""CASE WHEN strpos({texts}, '"') > 0 OR strpos({texts}, E'\\\\') > 0 """
    pieces = [f"{flag}THEN 'X' ELSE '' END || '{_GLUES[0]}' || ({values[COLUMNS[0]]})::text"]
    for index, name in enumerate(COLUMNS[1:], start=1):
        pieces.append(f"'{_GLUES[index]}' || ({values[name]})::text")
    return [*pieces, f"'{_GLUES[-1]}'"]


def _copied_jsonl_chunk(batch: list[bytes]) -> bytes:
    """JSON Lines from rows of `jsonl_copy_columns`. When no row is flagged, holds a raw control
    character or a vertical tab (`\\v`, which JSON does not have), the only backslashes are the
    ones COPY doubled in `changes` and its escapes of control characters in text values,
    `\\b \\f \\n \\r \\t`, which are JSON's too: taking the tabs out and undoing the doubling
    of backslashes over the whole chunk gives the lines."""
    rows = b"".join(batch)
    if _FLAGGED in rows or b"\\v" in rows or len(rows.translate(None, _CONTROLS)) != len(rows):
        return b"".join([_copied_jsonl_line(row) for row in batch])
    lines = rows.replace(b"\t", b"")
    return lines.replace(b"\\\\", b"\\") if b"\\" in lines else lines


def _copied_jsonl_line(row: bytes) -> bytes:
    """One line of JSON Lines from a row of `jsonl_copy_columns`. Outside `changes` (jsonb's own
    JSON text, in which COPY doubled each backslash), a row with the glue's quotes only, no
    backslash and no control character needs only its tabs taken out."""
    if row.startswith(b"X"):
        row = row[1:]
    start = row.index(_CHANGES_PIECE)
    end = row.index(b"\t", start + 1)
    quotes = _GLUE_QUOTES if row.endswith(b"null", 0, start) else _GLUE_QUOTES + 2
    if (
        row.count(b'"', 0, start) + row.count(b'"', end) == quotes
        and row.find(b"\\", 0, start) < 0
        and row.find(b"\\", end) < 0
        and len(row.translate(None, _CONTROLS)) == len(row)
    ):
        line = row.replace(b"\t", b"")
        return line.replace(b"\\\\", b"\\") if row.find(b"\\", start, end) >= 0 else line
    return _escaped_copied_jsonl_line(row)


def _escaped_copied_jsonl_line(row: bytes) -> bytes:
    pieces = row[:-1].split(b"\t")
    values = [piece[length:] for piece, length in zip(pieces, _GLUE_LENGTHS[:-1], strict=False)]
    for index, name in enumerate(COLUMNS):
        if name == "changes":
            values[index] = values[index].replace(b"\\\\", b"\\")
        elif name not in _UNQUOTED:
            values[index] = _json_escaped(values[index])
    return _JSONL_LINE % tuple(values)


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
