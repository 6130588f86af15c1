"""Writing a checkpoint, and auditing the verifications that fail."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from control_plane.audit import signing
from control_plane.audit.checkpoints import CheckpointMismatch, write_checkpoint
from control_plane.audit.models import AuditEvent
from control_plane.audit.services import record
from control_plane.auth.principal import Principal

_REASON_LIMIT = 4000


def checkpoint_now() -> Path:
    """Sign and write the next checkpoint to AUDIT_CHECKPOINT_DIRECTORY. A database that no
    longer matches the previous checkpoint is not signed: the failure is audited and raised."""
    directory = Path(settings.AUDIT_CHECKPOINT_DIRECTORY)
    try:
        return write_checkpoint(directory, signing.signing_key())
    except CheckpointMismatch as error:
        record_verification_failure(
            actor=Principal.system(), target=str(directory), problems=[str(error)]
        )
        raise


def record_verification_failure(*, actor: Principal, target: str, problems: list[str]) -> None:
    record(
        actor=actor,
        action="audit.verify",
        target_type="audit_trail",
        target_id=target[:200],
        outcome=AuditEvent.Outcome.FAILURE,
        reason="\n".join(problems)[:_REASON_LIMIT],
        changes={"problems": len(problems)},
    )
