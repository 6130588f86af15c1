"""Verify the audit trail: walk every chain (and compare it with the signed checkpoints), check an
export offline against its manifest, or make and check inclusion proofs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from control_plane.audit import verify
from control_plane.audit.checkpoint_service import record_verification_failure
from control_plane.audit.checkpoints import (
    checkpoint_files,
    latest_checkpoint,
    verify_against_checkpoints,
)
from control_plane.audit.export import COLUMNS
from control_plane.audit.management.commands._arguments import public_key_from
from control_plane.audit.merkle import (
    MerkleBuilder,
    inclusion_path,
    inclusion_path_after_prefix,
    root_from_path,
)
from control_plane.audit.models import AuditChainHead, AuditEvent
from control_plane.audit.retention import archive_anchors, verify_live_chain
from control_plane.auth.principal import Principal


class Command(BaseCommand):
    help = (
        "Verify the audit trail's hash chains and checkpoints; with --export/--manifest an "
        "export offline; --prove EVENT_ID prints an inclusion proof, --check-proof checks one. "
        "Exits non-zero on the first failure, naming where."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--chain", help="verify one chain only (e.g. tenant:acme, platform)")
        parser.add_argument("--export", help="an export file to verify against --manifest")
        parser.add_argument("--manifest", help="the export's signed manifest")
        parser.add_argument(
            "--public-key", help="PEM public key (default: the configured signing key's)"
        )
        parser.add_argument("--prove", type=int, metavar="EVENT_ID", help="print a proof")
        parser.add_argument("--output", help="write the proof here instead of standard output")
        parser.add_argument("--check-proof", metavar="FILE", help="check an inclusion proof")

    def handle(self, *args, **options) -> None:
        if options["check_proof"]:
            self._check_proof(Path(options["check_proof"]), options["public_key"])
        elif options["prove"] is not None:
            self._prove(options)
        elif options["export"] or options["manifest"]:
            if not (options["export"] and options["manifest"]):
                raise CommandError("--export and --manifest go together")
            self._verify_export(options)
        else:
            self._walk_chains(options["chain"], options["public_key"])

    def _fail(self, target: str, problems: list[str], summary: str) -> None:
        for problem in problems:
            self.stderr.write(f"FAIL {problem}")
        record_verification_failure(actor=Principal.system(), target=target, problems=problems)
        raise CommandError(summary)

    def _verify_export(self, options: dict[str, Any]) -> None:
        export, manifest_path = Path(options["export"]), Path(options["manifest"])
        try:
            manifest = json.loads(manifest_path.read_text())
        except (OSError, ValueError) as error:
            raise CommandError(f"cannot read the manifest {manifest_path}: {error}") from error
        problems = verify.verify_export(export, manifest, public_key_from(options["public_key"]))
        if problems:
            self._fail(str(export), problems, f"{export} does not verify against {manifest_path}")
        self.stdout.write(
            f"OK: {export} holds the {manifest['row_count']} events its manifest signs "
            f"(signature, sha256, row count, chain links and Merkle root verified)"
        )

    def _check_proof(self, path: Path, public_key: str | None) -> None:
        try:
            proof = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise CommandError(f"cannot read the proof {path}: {error}") from error
        problems = verify.check_proof(proof, public_key_from(public_key))
        if problems:
            self._fail(str(path), problems, f"the proof in {path} does not verify")
        self.stdout.write(
            f"OK: event {proof['event']['id']} is leaf {proof['leaf_index']} of the signed "
            f"tree of {proof['tree_size']} events with root {proof['root']}"
        )

    def _prove(self, options: dict[str, Any]) -> None:
        event_id = options["prove"]
        if options["export"] and options["manifest"]:
            manifest = json.loads(Path(options["manifest"]).read_text())
            try:
                proof = verify.prove_in_export(Path(options["export"]), manifest, event_id)
            except LookupError as error:
                raise CommandError(str(error)) from error
        else:
            proof = self._prove_in_chain(event_id)
        encoded = json.dumps(proof, indent=2, ensure_ascii=False)
        if options["output"]:
            Path(options["output"]).write_text(encoded + "\n")
            self.stdout.write(f"Proof written to {options['output']}")
        else:
            self.stdout.write(encoded)

    def _prove_in_chain(self, event_id: int) -> dict[str, Any]:
        """A proof in the event's chain against the latest signed checkpoint."""
        row = AuditEvent.objects.filter(pk=event_id).values_list(*COLUMNS).first()
        if row is None:
            raise CommandError(f"no audit event {event_id}")
        event = dict(zip(COLUMNS, row, strict=True))
        event["occurred_at"] = event["occurred_at"].isoformat(timespec="microseconds")
        latest = latest_checkpoint(Path(settings.AUDIT_CHECKPOINT_DIRECTORY))
        entry = (latest[1].get("chains") or {}).get(event["chain"]) if latest else None
        if latest is None or entry is None or entry["count"] < event["sequence"]:
            raise CommandError(
                f"event {event_id} is newer than the latest checkpoint: run audit_checkpoint, "
                "then prove it"
            )
        size = entry["count"]
        leaves = (
            bytes.fromhex(hash_)
            for hash_ in AuditEvent.objects.filter(chain=event["chain"], sequence__lte=size)
            .order_by("sequence")
            .values_list("hash", flat=True)
            .iterator(chunk_size=5000)
        )
        index = event["sequence"] - 1
        first = (
            AuditEvent.objects.filter(chain=event["chain"])
            .order_by("sequence")
            .values_list("sequence", flat=True)
            .first()
        )
        if first is not None and first > 1:
            # The chain's oldest events were archived: their frontier stands in for them.
            anchor = archive_anchors(event["chain"]).get(event["chain"], {}).get(first - 1)
            if anchor is None:
                raise CommandError(f"chain {event['chain']} starts at {first} with no archive")
            prefix = MerkleBuilder.from_frontier(anchor["merkle_size"], anchor["merkle_frontier"])
            path = inclusion_path_after_prefix(index, size, prefix, leaves)
        else:
            path = inclusion_path(index, size, leaves)
        root = root_from_path(index, size, bytes.fromhex(event["hash"]), path)
        if root != entry["merkle_root"]:
            raise CommandError(
                f"chain {event['chain']} no longer matches checkpoint {latest[0]}: run "
                "audit_verify to see where"
            )
        return verify.proof_document(event, index, size, path, root, {"checkpoint": latest[1]})

    def _walk_chains(self, chain: str | None, public_key: str | None) -> None:
        heads = dict(
            (row[0], (row[1], row[2]))
            for row in AuditChainHead.objects.values_list("chain", "sequence", "hash")
        )
        chains = sorted(
            set(heads) | set(AuditEvent.objects.values_list("chain", flat=True).distinct())
        )
        if chain is not None:
            chains = [chain]
        broken = []
        checked = 0
        anchors = archive_anchors(chain)
        for name in chains:
            events = (
                AuditEvent.objects.filter(chain=name).order_by("sequence").iterator(chunk_size=2000)
            )
            # A chain whose oldest events were archived starts at its archive anchor.
            link = verify_live_chain(
                name, iter(events), head=heads.get(name), anchors=anchors.get(name, {})
            )
            checked += 1
            if link is not None:
                broken.append(link)
                self.stderr.write(
                    f"BROKEN chain {link.chain} at sequence {link.sequence} "
                    f"(event id {link.event_id}): {link.problem}"
                )
        directory = Path(settings.AUDIT_CHECKPOINT_DIRECTORY)
        checkpoints = len(checkpoint_files(directory))
        against = (
            verify_against_checkpoints(directory, public_key_from(public_key), chain)
            if checkpoints
            else []
        )
        if broken or against:
            problems = [f"chain {link.chain} at sequence {link.sequence}" for link in broken]
            summary = (
                f"{len(broken)} of {checked} audit chains are broken"
                if broken
                else f"the audit chains do not match {directory}"
            )
            self._fail("audit trail", problems + against, summary)
        total = AuditEvent.objects.count()
        self.stdout.write(
            f"OK: {checked} chains, {total} events, every link verified"
            + (f"; they match {checkpoints} checkpoints in {directory}" if checkpoints else "")
        )
