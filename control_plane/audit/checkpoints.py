"""Signed checkpoints of every audit chain, written outside the database.

A checkpoint states, per chain, the event count, the head hash and the RFC 6962 Merkle root of
the chain's event hashes, and names the previous checkpoint by digest. Someone with write access
to the database can drop the trigger and recompute every hash, but not re-sign the checkpoints:
`verify_against_checkpoints` recomputes each chain's root at every checkpointed size.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.utils import timezone

from control_plane.audit import signing
from control_plane.audit.merkle import MerkleBuilder
from control_plane.audit.models import AuditEvent
from control_plane.audit.retention import archive_anchors

_NAME = re.compile(r"^checkpoint-(\d{8})\.json$")


def checkpoint_files(directory: Path) -> list[tuple[int, Path]]:
    """(number, path) of every checkpoint in the directory, oldest first."""
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        match = _NAME.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def _chain_events(chain: str | None = None) -> Iterator[tuple[str, int, str]]:
    """(chain, sequence, hash) of every event (of one chain if named), chain by chain in
    sequence order (the unique (chain, sequence) index serves the order)."""
    events = AuditEvent.objects.all() if chain is None else AuditEvent.objects.filter(chain=chain)
    return (
        events.order_by("chain", "sequence")
        .values_list("chain", "sequence", "hash")
        .iterator(chunk_size=5000)
    )


@dataclass
class _Expectation:
    checkpoint: int
    count: int
    head_hash: str
    merkle_root: str


class CheckpointMismatch(Exception):
    """The database no longer holds what an earlier checkpoint signed."""


def _compare(
    events: Iterable[tuple[str, int, str]],
    expected: dict[str, list[_Expectation]],
    anchors: dict[str, dict[int, dict[str, Any]]],
) -> list[str]:
    """One pass over every chain, comparing its root and head at every checkpointed size. A
    chain whose prefix was archived continues from its archive event's Merkle frontier."""
    problems: list[str] = []
    current: str | None = None
    builder = MerkleBuilder()
    pending: list[_Expectation] = []
    last_match = 0
    seen: set[str] = set()

    def finish(chain: str | None) -> None:
        if chain is not None and pending:
            missing = pending[0]
            problems.append(
                f"chain {chain}: it has {builder.size} events but checkpoint "
                f"{missing.checkpoint} recorded {missing.count}: events after sequence "
                f"{builder.size} were removed"
            )

    def start(chain: str, sequence: int) -> MerkleBuilder:
        """The chain's tree before its first live event; checkpoints inside an archived prefix
        are the archive's to prove, and are skipped."""
        nonlocal pending, last_match
        pending = sorted(expected.get(chain, []), key=lambda e: e.count)
        if sequence == 1:
            return MerkleBuilder()
        anchor = anchors.get(chain, {}).get(sequence - 1)
        if anchor is None:
            problems.append(
                f"chain {chain}: it starts at sequence {sequence} and no audit.archive event "
                "covers the events before it"
            )
            pending = []
            return MerkleBuilder()
        seeded = MerkleBuilder.from_frontier(anchor["merkle_size"], anchor["merkle_frontier"])
        while pending and pending[0].count <= seeded.size:
            expectation = pending.pop(0)
            if expectation.count == seeded.size and (
                (seeded.root(), anchor["through_hash"])
                != (expectation.merkle_root, expectation.head_hash)
            ):
                problems.append(
                    f"chain {chain}: its archive record does not match checkpoint "
                    f"{expectation.checkpoint} at sequence {expectation.count}"
                )
        last_match = seeded.size
        return seeded

    for chain, sequence, event_hash in events:
        if chain != current:
            finish(current)
            current, last_match = chain, 0
            builder = start(chain, sequence)
            seen.add(chain)
        builder.add(bytes.fromhex(event_hash))
        while pending and pending[0].count == builder.size:
            expectation = pending.pop(0)
            if (builder.root(), event_hash) != (expectation.merkle_root, expectation.head_hash):
                problems.append(
                    f"chain {chain}: its first {expectation.count} events no longer match "
                    f"checkpoint {expectation.checkpoint} (head at sequence {sequence} is "
                    f"{event_hash}, the checkpoint says {expectation.head_hash}): events "
                    f"between sequence {last_match + 1} and {expectation.count} were rewritten "
                    "after the checkpoint"
                )
                pending = []  # later checkpoints of the chain cover the same rewrite
            else:
                last_match = expectation.count
    finish(current)
    for chain in sorted(set(expected) - seen):
        if any(e.count for e in expected[chain]):
            problems.append(
                f"chain {chain}: checkpoint {expected[chain][0].checkpoint} recorded "
                f"{expected[chain][0].count} events, the database has none: they were removed"
            )
    return problems


def load_checkpoints(directory: Path, public_key: Ed25519PublicKey) -> tuple[list, list[str]]:
    """The checkpoints whose signatures verify, and the problems with the sequence: a bad
    signature, a checkpoint missing or replaced (its successor names another digest)."""
    documents: list[tuple[int, dict[str, Any]]] = []
    problems: list[str] = []
    previous: tuple[int, str] | None = None
    for number, path in checkpoint_files(directory):
        try:
            document = json.loads(path.read_text())
            signing.verify(document, public_key)
        except (ValueError, signing.SignatureInvalid) as error:
            problems.append(f"checkpoint {number} ({path}): {error}")
            previous = None
            continue
        named = document.get("previous")
        if previous is not None and named != {"number": previous[0], "sha256": previous[1]}:
            problems.append(
                f"checkpoint {number} ({path}) names previous checkpoint {named}, but "
                f"checkpoint {previous[0]} has digest {previous[1]}: one was replaced or removed"
            )
        documents.append((number, document))
        previous = (number, signing.document_digest(document))
    return documents, problems


def verify_against_checkpoints(
    directory: Path, public_key: Ed25519PublicKey, chain: str | None = None
) -> list[str]:
    """Problems found comparing the live chains (or one) with every checkpoint in `directory`."""
    documents, problems = load_checkpoints(directory, public_key)
    expected: dict[str, list[_Expectation]] = {}
    for number, document in documents:
        for name, entry in (document.get("chains") or {}).items():
            if chain is None or name == chain:
                expected.setdefault(name, []).append(
                    _Expectation(number, entry["count"], entry["head_hash"], entry["merkle_root"])
                )
    return problems + _compare(_chain_events(chain), expected, archive_anchors(chain))


def build_checkpoint(
    previous: tuple[int, dict[str, Any]] | None,
) -> dict[str, Any]:
    """The unsigned next checkpoint. Raises CheckpointMismatch rather than sign a database that
    no longer matches the previous checkpoint."""
    chains: dict[str, dict[str, Any]] = {}
    expected: dict[str, list[_Expectation]] = {}
    if previous is not None:
        for chain, entry in (previous[1].get("chains") or {}).items():
            expected[chain] = [
                _Expectation(previous[0], entry["count"], entry["head_hash"], entry["merkle_root"])
            ]

    anchors = archive_anchors()

    def tracked() -> Iterator[tuple[str, int, str]]:
        builder, current, head = MerkleBuilder(), None, ""
        for chain, sequence, event_hash in _chain_events():
            if chain != current:
                if current is not None:
                    chains[current] = _entry(builder, head)
                anchor = anchors.get(chain, {}).get(sequence - 1)
                builder, current = (
                    (
                        MerkleBuilder.from_frontier(
                            anchor["merkle_size"], anchor["merkle_frontier"]
                        )
                        if anchor
                        else MerkleBuilder()
                    ),
                    chain,
                )
            builder.add(bytes.fromhex(event_hash))
            head = event_hash
            yield chain, sequence, event_hash
        if current is not None:
            chains[current] = _entry(builder, head)

    problems = _compare(tracked(), expected, anchors)
    if problems:
        raise CheckpointMismatch("; ".join(problems))
    return {
        "kind": "audit-checkpoint",
        "version": 1,
        "number": previous[0] + 1 if previous else 1,
        "created_at": timezone.now().astimezone(UTC).isoformat(timespec="microseconds"),
        "previous": (
            {"number": previous[0], "sha256": signing.document_digest(previous[1])}
            if previous
            else None
        ),
        "chains": chains,
    }


def _entry(builder: MerkleBuilder, head: str) -> dict[str, Any]:
    return {"count": builder.size, "head_hash": head, "merkle_root": builder.root()}


def write_checkpoint(directory: Path, key: Ed25519PrivateKey) -> Path:
    """Sign and write the next checkpoint; its file is created exclusively, so two writers at
    once cannot both claim the same number."""
    directory.mkdir(parents=True, exist_ok=True)
    files = checkpoint_files(directory)
    previous = None
    if files:
        number, path = files[-1]
        previous = (number, json.loads(path.read_text()))
        try:
            signing.verify(previous[1], key.public_key())
        except signing.SignatureInvalid as error:
            raise CheckpointMismatch(f"checkpoint {number} ({path}): {error}") from error
    document = signing.sign(build_checkpoint(previous), key)
    path = directory / f"checkpoint-{document['number']:08d}.json"
    encoded = (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.write(handle, encoded)
        os.fsync(handle)
    finally:
        os.close(handle)
    return path


def latest_checkpoint(directory: Path) -> tuple[int, dict[str, Any]] | None:
    files = checkpoint_files(directory)
    if not files:
        return None
    number, path = files[-1]
    return number, json.loads(path.read_text())
