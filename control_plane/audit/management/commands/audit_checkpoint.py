"""Write a signed checkpoint of every audit chain now (the beat task does it periodically)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from control_plane.audit.checkpoint_service import checkpoint_now
from control_plane.audit.checkpoints import CheckpointMismatch


class Command(BaseCommand):
    help = "Sign a checkpoint of every audit chain into AUDIT_CHECKPOINT_DIRECTORY."

    def handle(self, *args, **options) -> None:
        try:
            path = checkpoint_now()
        except CheckpointMismatch as error:
            raise CommandError(f"not signed: {error}") from error
        self.stdout.write(f"Checkpoint written to {path}")
