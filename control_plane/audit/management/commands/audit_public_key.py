"""Print the public key that verifies audit manifests and checkpoints."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from control_plane.audit import signing


class Command(BaseCommand):
    help = "Print the audit signing key's public half (PEM) for auditors' offline verification."

    def handle(self, *args, **options) -> None:
        key = signing.signing_key().public_key()
        self.stdout.write(signing.public_key_pem(key), ending="")
        self.stderr.write(f"key id {signing.key_id(key)}")
