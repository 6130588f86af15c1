"""Retention: archive the audit events before a date to an export with a signed manifest, then
delete them, leaving in each chain an audit.archive event the rest of the chain verifies from."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from control_plane.audit.archive_service import ArchiveRefused, archive_before
from control_plane.audit.export import FORMATS
from control_plane.audit.management.commands._arguments import utc_time


class Command(BaseCommand):
    help = "Export the audit events before DATE with a signed manifest, then delete them."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--before", type=utc_time, required=True, help="ISO 8601 time")
        parser.add_argument("--output", required=True, help="the archive export to write")
        parser.add_argument("--manifest", required=True, help="its manifest")
        parser.add_argument("--format", choices=FORMATS, default="jsonl")

    def handle(self, *args, **options) -> None:
        try:
            outcome = archive_before(
                before=options["before"],
                output=Path(options["output"]),
                manifest_path=Path(options["manifest"]),
                export_format=options["format"],
            )
        except ArchiveRefused as error:
            raise CommandError(f"nothing deleted: {error}") from error
        for chain, result in outcome.items():
            self.stdout.write(
                f"{chain}: {result} events archived"
                if isinstance(result, int)
                else f"{chain}: {result}"
            )
        self.stdout.write(f"Archive in {options['output']}, manifest in {options['manifest']}")
