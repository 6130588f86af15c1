"""Running exports: streaming one, writing one to files, and signing its manifest. Each export
is itself an audit event (who exported what), on the exported tenant's chain or the platform's.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from control_plane.audit import signing
from control_plane.audit.export import (
    ExportDigest,
    ExportSpec,
    build_manifest,
    encode,
    encode_copied,
)
from control_plane.audit.selectors import (
    audit_export_copy_batches,
    audit_export_rows,
    chain_heads_at,
)
from control_plane.audit.services import record
from control_plane.auth.principal import Principal


def _generated_by(actor: Principal) -> dict[str, str]:
    return {"actor": actor.label, "actor_type": actor.kind, "host": socket.gethostname()}


def _record_export(actor: Principal, spec: ExportSpec, **details: Any) -> None:
    record(
        actor=actor,
        action="audit.export",
        target_type="audit_export",
        target_id=f"{spec.format}:{spec.max_event_id}",
        tenant_slug=spec.tenant or "",
        changes={
            "format": spec.format,
            "filters": spec.filters(),
            "time_range": spec.time_range(),
            "max_event_id": spec.max_event_id,
            **details,
        },
    )


def _copy_supported() -> bool:
    return connection.vendor == "postgresql"


def _encoded(actor: Principal, spec: ExportSpec, digest: ExportDigest) -> Iterator[bytes]:
    """The export's bytes. PostgreSQL formats the rows itself (COPY, several times faster than
    Python); other databases go through the ORM. Either encoding is deterministic, which is what
    the manifest route relies on, and both give the same bytes for the same events."""
    if _copy_supported():
        return encode_copied(audit_export_copy_batches(actor=actor, spec=spec), spec.format, digest)
    rows = audit_export_rows(actor=actor, spec=spec, chunk_size=settings.AUDIT_EXPORT_CHUNK_SIZE)
    return encode(rows, spec.format, digest)


def _signed(actor: Principal, spec: ExportSpec, digest: ExportDigest) -> dict[str, Any]:
    manifest = build_manifest(
        spec=spec,
        digest=digest,
        chain_heads=chain_heads_at(actor=actor, tenant=spec.tenant, max_event_id=spec.max_event_id),
        generated_by=_generated_by(actor),
        generated_at=timezone.now(),
    )
    return signing.sign(manifest, signing.signing_key())


def stream_export(*, actor: Principal, spec: ExportSpec) -> Iterator[bytes]:
    """The export's bytes, to stream. The scope is checked (404 for a tenant the caller may not
    export) and the export audited before the first byte."""
    signing.signing_key()  # no export whose manifest could not be signed
    body = _encoded(actor, spec, ExportDigest())
    _record_export(actor, spec)
    return body


def export_manifest(*, actor: Principal, spec: ExportSpec) -> dict[str, Any]:
    """The signed manifest of the export `spec` describes, computed by encoding the same rows
    again: the pins bound them, and the table is append-only."""
    digest = ExportDigest()
    for _ in _encoded(actor, spec, digest):
        pass
    return _signed(actor, spec, digest)


def write_export(
    *, actor: Principal, spec: ExportSpec, output: Path, manifest_path: Path
) -> dict[str, Any]:
    """Write the export and its signed manifest in one pass over the rows."""
    signing.signing_key()  # fail before writing anything if the manifest could not be signed
    digest = ExportDigest()
    with output.open("wb") as handle:
        for chunk in _encoded(actor, spec, digest):
            handle.write(chunk)
    manifest = _signed(actor, spec, digest)
    manifest_path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    _record_export(actor, spec, row_count=digest.row_count, sha256=digest.sha256)
    return manifest
