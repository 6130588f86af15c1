"""Write an audit export (CSV or JSON Lines) and its signed manifest."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand

from control_plane.audit.export import FORMATS, ExportSpec
from control_plane.audit.export_service import write_export
from control_plane.audit.management.commands._arguments import utc_time
from control_plane.audit.models import AuditEvent
from control_plane.audit.selectors import export_pins
from control_plane.auth.principal import Principal


class Command(BaseCommand):
    help = "Export audit events with a signed manifest that audit_verify checks offline."
    # The system checks import every URL route and view (numpy, the scaling simulator, the
    # schema generator): a second of start-up on 2 cores that an export does not use.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser) -> None:
        parser.add_argument("--format", choices=FORMATS, required=True)
        parser.add_argument("--output", required=True, help="the export file to write")
        parser.add_argument("--manifest", required=True, help="the manifest file to write")
        parser.add_argument("--tenant", help="one tenant's events (its slug); default all")
        parser.add_argument("--since", type=utc_time, help="events at or after (ISO 8601)")
        parser.add_argument("--until", type=utc_time, help="events before (ISO 8601); default now")
        parser.add_argument("--action")
        parser.add_argument("--actor")
        parser.add_argument("--outcome", choices=AuditEvent.Outcome.values)

    def handle(self, *args, **options) -> None:
        now, max_event_id = export_pins()
        spec = ExportSpec(
            format=options["format"],
            until=options["until"] or now,
            max_event_id=max_event_id,
            since=options["since"],
            tenant=options["tenant"],
            action=options["action"],
            actor=options["actor"],
            outcome=options["outcome"],
        )
        manifest = write_export(
            actor=Principal.system(),
            spec=spec,
            output=Path(options["output"]),
            manifest_path=Path(options["manifest"]),
        )
        self.stdout.write(
            f"Exported {manifest['row_count']} events to {options['output']} "
            f"(sha256 {manifest['sha256']}); manifest in {options['manifest']}"
        )
