"""Retention: export the events before a date, then delete each chain's exported prefix through
`audit_delete_archived`, leaving an `audit.archive` event that anchors the rest of the chain."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.db import connection, transaction
from django.db.models import Min

from control_plane.audit import signing
from control_plane.audit.export import ExportSpec
from control_plane.audit.export_service import write_export
from control_plane.audit.merkle import MerkleBuilder
from control_plane.audit.models import PLATFORM_CHAIN, AuditEvent
from control_plane.audit.retention import ARCHIVE_ACTION, archive_anchors
from control_plane.audit.selectors import export_pins
from control_plane.audit.services import record
from control_plane.audit.verify import read_events, verify_export
from control_plane.auth.principal import Principal


class ArchiveRefused(Exception):
    """Nothing was deleted: the reason says why."""


@dataclass
class _Prefix:
    """The run of a chain's events the export holds, from the chain's first live event on."""

    builder: MerkleBuilder
    last_sequence: int = 0
    last_hash: str = ""
    rows: int = 0
    contiguous: bool = True
    skipped_reason: str = field(default="")


def _tenant_of(chain: str) -> str:
    return "" if chain == PLATFORM_CHAIN else chain.removeprefix("tenant:")


def _prefixes(export: Path, export_format: str) -> dict[str, _Prefix]:
    firsts = dict(
        AuditEvent.objects.order_by()
        .values("chain")
        .annotate(first=Min("sequence"))
        .values_list("chain", "first")
    )
    anchors = archive_anchors()
    prefixes: dict[str, _Prefix] = {}
    for _, event in read_events(export, export_format):
        assert isinstance(event, dict)  # the export was verified just before
        chain, sequence = event["chain"], event["sequence"]
        prefix = prefixes.get(chain)
        if prefix is None:
            start = firsts.get(chain, sequence)
            anchor = anchors.get(chain, {}).get(start - 1)
            builder = (
                MerkleBuilder.from_frontier(anchor["merkle_size"], anchor["merkle_frontier"])
                if anchor
                else MerkleBuilder()
            )
            prefix = prefixes[chain] = _Prefix(builder=builder, last_sequence=start - 1)
            if builder.size != start - 1:
                prefix.contiguous, prefix.skipped_reason = False, "no archive anchor"
        if not prefix.contiguous:
            continue
        if sequence != prefix.last_sequence + 1:
            # Events of the chain before the date are not all in the export (a clock that
            # went backwards): deleting up to the last one would lose the others.
            prefix.contiguous = False
            prefix.skipped_reason = f"sequence {sequence} follows {prefix.last_sequence}"
            continue
        prefix.builder.add(bytes.fromhex(event["hash"]))
        prefix.last_sequence, prefix.last_hash = sequence, event["hash"]
        prefix.rows += 1
    return prefixes


def archive_before(
    *, before: datetime, output: Path, manifest_path: Path, export_format: str = "jsonl"
) -> dict[str, int | str]:
    """{chain: events deleted, or why the chain was kept}. Writes and verifies the export
    first; each chain's archive event and deletion commit together."""
    if connection.vendor != "postgresql":
        raise ArchiveRefused("audit events are deleted only on PostgreSQL")
    actor = Principal.system()
    _, max_event_id = export_pins()
    spec = ExportSpec(format=export_format, until=before, max_event_id=max_event_id)
    manifest = write_export(actor=actor, spec=spec, output=output, manifest_path=manifest_path)
    problems = verify_export(output, manifest, signing.signing_key().public_key())
    if problems:
        raise ArchiveRefused(f"the archive export does not verify: {problems[0]}")
    manifest_digest = hashlib.sha256(manifest_path.read_bytes()).hexdigest()
    outcome: dict[str, int | str] = {}
    for chain, prefix in sorted(_prefixes(output, export_format).items()):
        if not prefix.contiguous or not prefix.rows:
            outcome[chain] = f"kept: {prefix.skipped_reason or 'nothing to archive'}"
            continue
        with transaction.atomic():
            record(
                actor=actor,
                action=ARCHIVE_ACTION,
                target_type="audit_chain",
                target_id=chain,
                tenant_slug=_tenant_of(chain),
                changes={
                    "through_sequence": prefix.last_sequence,
                    "through_hash": prefix.last_hash,
                    "merkle_size": prefix.builder.size,
                    "merkle_frontier": prefix.builder.frontier(),
                    "before": spec.time_range()["until"],
                    "rows": prefix.rows,
                    "export_sha256": manifest["sha256"],
                    "manifest_sha256": manifest_digest,
                },
            )
            # After record(), against the lock order's letter: the deleted rows are never
            # locked by any other writer (the table is append-only), so no cycle can form.
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT audit_delete_archived(%s, %s)", [chain, prefix.last_sequence]
                )
                outcome[chain] = cursor.fetchone()[0]
    return outcome
