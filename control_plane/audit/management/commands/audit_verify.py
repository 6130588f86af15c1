"""Walk every audit chain and report the first broken link of each."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from control_plane.audit.chain import verify_chain
from control_plane.audit.models import AuditChainHead, AuditEvent


class Command(BaseCommand):
    help = "Verify the audit trail's hash chains; exits non-zero at the first broken link."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--chain", help="verify one chain only (e.g. tenant:acme, platform)")

    def handle(self, *args, chain: str | None = None, **options) -> None:
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
        for name in chains:
            events = (
                AuditEvent.objects.filter(chain=name).order_by("sequence").iterator(chunk_size=2000)
            )
            link = verify_chain(name, events, head=heads.get(name))
            checked += 1
            if link is not None:
                broken.append(link)
                self.stderr.write(
                    f"BROKEN chain {link.chain} at sequence {link.sequence} "
                    f"(event id {link.event_id}): {link.problem}"
                )
        if broken:
            raise CommandError(f"{len(broken)} of {checked} audit chains are broken")
        total = AuditEvent.objects.count()
        self.stdout.write(f"OK: {checked} chains, {total} events, every link verified")
