"""Offline verification of an export against its signed manifest, and inclusion proofs.

Needs only the files and the public key: nothing here reads the database, so an auditor runs it
on a copy of the export anywhere.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from control_plane.audit import signing
from control_plane.audit.chain import GENESIS_HASH, HASHED_FIELDS
from control_plane.audit.export import COLUMNS
from control_plane.audit.merkle import MerkleBuilder, inclusion_path, root_from_path

MAX_PROBLEMS = 20
_HEX64 = re.compile(r"[0-9a-f]{64}")
# chain.event_hash's encoding, built once (json.dumps with options builds one per call).
_canonical_json = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


class ExportUnreadable(Exception):
    """The export cannot be parsed at all (wrong header, not CSV/JSON Lines)."""


def _event_from_csv(values: list[str]) -> dict[str, Any]:
    if len(values) != len(COLUMNS):
        raise ValueError(f"{len(values)} fields, expected {len(COLUMNS)}")
    event: dict[str, Any] = dict(zip(COLUMNS, values, strict=True))
    event["id"] = int(event["id"])
    event["sequence"] = int(event["sequence"])
    event["actor_user_id"] = int(event["actor_user_id"]) if event["actor_user_id"] else None
    event["source_address"] = event["source_address"] or None
    event["changes"] = json.loads(event["changes"])
    return event


def _event_from_jsonl(line: str) -> dict[str, Any]:
    event = json.loads(line)
    if not isinstance(event, dict) or list(event) != list(COLUMNS):
        raise ValueError("not an event object with the export's columns in order")
    if not all(isinstance(event[name], int) for name in ("id", "sequence")):
        raise ValueError("id and sequence must be integers")
    return event


def read_events(path: Path, export_format: str) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(row number, event) per row, or (row number, why it cannot be parsed)."""
    with path.open(encoding="utf-8", newline="") as handle:
        if export_format == "csv":
            reader = csv.reader(handle, lineterminator="\n")
            header = next(reader, None)
            if header != list(COLUMNS):
                raise ExportUnreadable(f"the CSV header is not the export's columns: {header}")
            for number, values in enumerate(reader, start=1):
                try:
                    yield number, _event_from_csv(values)
                except (ValueError, json.JSONDecodeError) as error:
                    yield number, f"cannot be parsed: {error}"
        elif export_format == "jsonl":
            for number, line in enumerate(handle, start=1):
                try:
                    yield number, _event_from_jsonl(line)
                except (ValueError, json.JSONDecodeError) as error:
                    yield number, f"cannot be parsed: {error}"
        else:
            raise ExportUnreadable(f"unknown export format {export_format!r}")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def recomputed_hash(event: dict[str, Any]) -> str:
    """chain.event_hash of an exported event. Its values are already canonical (the time is a
    string), so this is the same JSON without event_hash's per-field conversion, which is a
    fifth of verification time; tests/audit pin the two equal."""
    encoded = _canonical_json({name: event[name] for name in HASHED_FIELDS})
    return hashlib.sha256(encoded.encode()).hexdigest()


def verify_export(
    export_path: Path, manifest: dict[str, Any], public_key: Ed25519PublicKey
) -> list[str]:
    """Every problem found, each saying where; empty if the export is what the manifest signs."""
    problems: list[str] = []
    try:
        signing.verify(manifest, public_key)
    except signing.SignatureInvalid as error:
        problems.append(f"manifest: {error}")
    if manifest.get("columns") != list(COLUMNS):
        problems.append("manifest: its columns are not this verifier's export columns")
    heads = manifest.get("chain_heads") or {}
    filters = manifest.get("filters") or {}
    # With no action/actor/outcome filter an export holds every event of its chains in its
    # time range, so a sequence gap means a removed row.
    complete_chains = not any(filters.get(name) for name in ("action", "actor", "outcome"))
    gaps: list[str] = []
    row_problems: list[str] = []
    last_of_chain: dict[str, tuple[int, str, int]] = {}
    merkle = MerkleBuilder()
    previous_id, rows, first_id, last_id = None, 0, None, None
    try:
        for number, event in read_events(export_path, str(manifest.get("format"))):
            rows += 1
            where = f"row {number}"
            if isinstance(event, str):
                row_problems.append(f"{where}: {event}")
                continue
            where = f"row {number} (event id {event['id']})"
            first_id = event["id"] if first_id is None else first_id
            last_id = event["id"]
            merkle.add(bytes.fromhex(event["hash"]) if _is_hex64(event["hash"]) else b"")
            if previous_id is not None and event["id"] <= previous_id:
                row_problems.append(
                    f"{where}: follows event id {previous_id}: rows are out of order"
                )
            previous_id = event["id"]
            if recomputed_hash(event) != event["hash"]:
                row_problems.append(f"{where}: content does not match its hash (edited)")
            chain, sequence = event["chain"], event["sequence"]
            before = last_of_chain.get(chain)
            if before is None:
                if sequence == 1 and event["prev_hash"] != GENESIS_HASH:
                    row_problems.append(f"{where}: the first event of {chain} has a prev_hash")
            elif sequence <= before[0]:
                row_problems.append(
                    f"{where}: sequence {sequence} of {chain} follows sequence {before[0]} "
                    f"(row {before[2]}): rows are out of order"
                )
            elif sequence == before[0] + 1 and event["prev_hash"] != before[1]:
                row_problems.append(
                    f"{where}: prev_hash does not match the hash of row {before[2]}, its "
                    f"predecessor in {chain} (a row was forged or replaced)"
                )
            elif sequence > before[0] + 1 and complete_chains:
                gaps.append(
                    f"{where}: {chain} jumps from sequence {before[0]} (row {before[2]}) to "
                    f"{sequence}: rows between them are missing"
                )
            head = heads.get(chain)
            if head and head.get("sequence") == sequence and head.get("hash") != event["hash"]:
                row_problems.append(
                    f"{where}: the manifest's head of {chain} at sequence {sequence} is "
                    f"{head.get('hash')}, the row's hash is {event['hash']}"
                )
            last_of_chain[chain] = (sequence, event["hash"], number)
    except (ExportUnreadable, UnicodeDecodeError) as error:
        return [*problems, f"export: {error}"]
    problems.extend(row_problems)
    digest = file_sha256(export_path)
    if digest != manifest.get("sha256"):
        problems.append(
            f"export: its sha256 is {digest}, the manifest says {manifest.get('sha256')}"
        )
        problems.extend(gaps)
    if rows != manifest.get("row_count"):
        problems.append(
            f"export: it has {rows} rows, the manifest says {manifest.get('row_count')}"
        )
    if (first_id, last_id) != (manifest.get("first_event_id"), manifest.get("last_event_id")):
        problems.append(
            f"export: its event ids run from {first_id} to {last_id}, the manifest says "
            f"{manifest.get('first_event_id')} to {manifest.get('last_event_id')}"
        )
    if merkle.root() != manifest.get("merkle_root"):
        problems.append(
            f"export: the Merkle root of its event hashes is {merkle.root()}, the manifest "
            f"says {manifest.get('merkle_root')}"
        )
    if len(problems) > MAX_PROBLEMS:
        problems = [*problems[:MAX_PROBLEMS], f"... and {len(problems) - MAX_PROBLEMS} more"]
    return problems


def _is_hex64(value: Any) -> bool:
    return isinstance(value, str) and _HEX64.fullmatch(value) is not None


def prove_in_export(export_path: Path, manifest: dict[str, Any], event_id: int) -> dict[str, Any]:
    """An inclusion proof of one exported event in the tree whose root the manifest signs."""
    export_format = str(manifest["format"])
    index, found = None, None
    for position, (_, event) in enumerate(read_events(export_path, export_format)):
        if isinstance(event, dict) and event["id"] == event_id:
            index, found = position, event
            break
    if found is None or index is None:
        raise LookupError(f"event {event_id} is not in {export_path}")
    size = int(manifest["row_count"])
    leaves = (
        bytes.fromhex(event["hash"])
        for _, event in read_events(export_path, export_format)
        if isinstance(event, dict)
    )
    path = inclusion_path(index, size, leaves)
    return proof_document(found, index, size, path, manifest["merkle_root"], {"manifest": manifest})


def proof_document(
    event: dict[str, Any],
    index: int,
    size: int,
    path: list[str],
    root: str,
    signed: dict[str, Any],
) -> dict[str, Any]:
    return {
        "kind": "audit-inclusion-proof",
        "event": event,
        "leaf_index": index,
        "tree_size": size,
        "audit_path": path,
        "root": root,
        "signed_by": signed,
        "how_to_check": (
            "leaf = SHA-256 of the event's canonical JSON (its `hash`, recomputed); fold the "
            "audit path per RFC 9162 2.1.3.2 with leaf hash SHA-256(0x00||leaf) and node hash "
            "SHA-256(0x01||left||right); the result must equal `root`, which the signed "
            "document in `signed_by` states. `manage.py audit_verify --check-proof FILE` does it."
        ),
    }


def check_proof(proof: dict[str, Any], public_key: Ed25519PublicKey) -> list[str]:
    """Problems with an inclusion proof; empty if the event is in the signed tree."""
    problems: list[str] = []
    try:
        event = proof["event"]
        index, size, path, root = (
            int(proof["leaf_index"]),
            int(proof["tree_size"]),
            list(proof["audit_path"]),
            str(proof["root"]),
        )
        if recomputed_hash(event) != event["hash"]:
            problems.append(f"event {event.get('id')}: its content does not match its hash")
        implied = root_from_path(index, size, bytes.fromhex(recomputed_hash(event)), path)
    except (KeyError, TypeError, ValueError) as error:
        return [*problems, f"proof: malformed: {error}"]
    if implied != root:
        problems.append(
            f"event {event.get('id')}: the audit path leads to root {implied}, not to {root}"
        )
    signed = proof.get("signed_by") or {}
    document, signed_root, signed_size = _signed_root(signed, event)
    if document is None:
        return [*problems, "proof: it names no signed manifest or checkpoint"]
    try:
        signing.verify(document, public_key)
    except signing.SignatureInvalid as error:
        problems.append(f"signed root: {error}")
    if (signed_root, signed_size) != (root, size):
        problems.append(
            f"signed root: the signed document states root {signed_root} of {signed_size} "
            f"events, the proof {root} of {size}"
        )
    return problems


def _signed_root(signed: dict[str, Any], event: dict[str, Any]) -> tuple[Any, Any, Any]:
    if "manifest" in signed:
        manifest = signed["manifest"]
        return manifest, manifest.get("merkle_root"), manifest.get("row_count")
    if "checkpoint" in signed:
        checkpoint = signed["checkpoint"]
        entry = (checkpoint.get("chains") or {}).get(event.get("chain"), {})
        return checkpoint, entry.get("merkle_root"), entry.get("count")
    return None, None, None
