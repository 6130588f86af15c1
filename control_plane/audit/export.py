"""Audit exports: the bytes of a CSV or JSON Lines export and the manifest that describes them.

Pure functions over rows in `COLUMNS` order; the rows come from `selectors.audit_export_rows`.
The encoding is deterministic, so the manifest route can compute the digest of an export it
streamed earlier by encoding the same bounded rows again (docs/decisions/0010).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from control_plane.audit.merkle import MerkleBuilder

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
_CHANGES = COLUMNS.index("changes")
_OCCURRED_AT = COLUMNS.index("occurred_at")
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
    """Everything the manifest says about the rows, gathered while they are encoded."""

    def __init__(self) -> None:
        self._sha256 = hashlib.sha256()
        self._merkle = MerkleBuilder()
        self.row_count = 0
        self.first_event_id: int | None = None
        self.last_event_id: int | None = None

    def add_bytes(self, chunk: bytes) -> None:
        self._sha256.update(chunk)

    def add_event(self, event_id: int, event_hash: str) -> None:
        if self.first_event_id is None:
            self.first_event_id = event_id
        self.last_event_id = event_id
        self.row_count += 1
        self._merkle.add(bytes.fromhex(event_hash))

    @property
    def sha256(self) -> str:
        return self._sha256.hexdigest()

    @property
    def merkle_root(self) -> str:
        return self._merkle.root()


def _csv_values(row: tuple) -> list:
    values = list(row)
    values[_OCCURRED_AT] = values[_OCCURRED_AT].isoformat(timespec="microseconds")
    # None and "" are told apart by the column: an IP address or a user id is never empty.
    return ["" if value is None else value for value in values]


def _jsonl_line(row: tuple) -> str:
    values = list(row)
    values[_OCCURRED_AT] = values[_OCCURRED_AT].isoformat(timespec="microseconds")
    # `changes` is JSON text already: spliced in between the columns before and after it.
    before = dict(zip(COLUMNS[:_CHANGES], values[:_CHANGES], strict=True))
    after = dict(zip(COLUMNS[_CHANGES + 1 :], values[_CHANGES + 1 :], strict=True))
    head, tail = _encode_json(before), _encode_json(after)
    return f'{head[:-1]},"changes":{values[_CHANGES]},{tail[1:]}\n'


def encode(rows: Iterable[tuple], export_format: str, digest: ExportDigest) -> Iterator[bytes]:
    """The export's bytes in chunks of about 64 KiB, feeding `digest` on the way. Rows are in
    `COLUMNS` order with `changes` as JSON text."""
    if export_format not in FORMATS:
        raise ValueError(f"unknown export format {export_format!r}")
    hash_index, id_index = COLUMNS.index("hash"), COLUMNS.index("id")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n") if export_format == "csv" else None
    if writer is not None:
        writer.writerow(COLUMNS)
    for row in rows:
        digest.add_event(row[id_index], row[hash_index])
        if writer is not None:
            writer.writerow(_csv_values(row))
        else:
            buffer.write(_jsonl_line(row))
        if buffer.tell() >= _FLUSH_BYTES:
            chunk = buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
            digest.add_bytes(chunk)
            yield chunk
    chunk = buffer.getvalue().encode()
    if chunk:
        digest.add_bytes(chunk)
        yield chunk


def encode_copied(
    rows: Iterable[bytes], export_format: str, digest: ExportDigest
) -> Iterator[bytes]:
    """The export's bytes from rows PostgreSQL formatted (`selectors.audit_export_copy_rows`),
    in chunks of about 64 KiB, feeding `digest`. Python only reads each row's id and hash."""
    if export_format not in FORMATS:
        raise ValueError(f"unknown export format {export_format!r}")
    parts: list[bytes] = []
    size = 0
    if export_format == "csv":
        parts.append(",".join(COLUMNS).encode() + b"\n")
    for row in rows:
        if export_format == "csv":
            # `id,...,<prev_hash>,<hash>\n`: neither needs quoting.
            event_id, event_hash = row[: row.index(b",")], row[-65:-1]
        else:
            # COPY's text format doubles backslashes; JSON text has no raw tab or newline for
            # it to escape. The object is `{"id" : N, ..., "hash" : "<hash>"}`.
            row = row.replace(b"\\\\", b"\\")
            event_id, event_hash = row[8 : row.index(b",")], row[-67:-3]
        digest.add_event(int(event_id), event_hash.decode())
        parts.append(row)
        size += len(row)
        if size >= _FLUSH_BYTES:
            chunk = b"".join(parts)
            parts, size = [], 0
            digest.add_bytes(chunk)
            yield chunk
    chunk = b"".join(parts)
    if chunk:
        digest.add_bytes(chunk)
        yield chunk


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
