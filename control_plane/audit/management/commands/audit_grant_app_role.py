"""Grant the application's database role what it needs, and on the audit events only INSERT and
SELECT. Run as the owner, after `migrate`."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from control_plane.audit.db_roles import grant_app_role


class Command(BaseCommand):
    help = "Grant ROLE the application's privileges; audit events: INSERT and SELECT only."

    def add_arguments(self, parser) -> None:
        parser.add_argument("role", help="the role web and workers connect as (not the owner)")

    def handle(self, *args, role: str, **options) -> None:
        try:
            statements = grant_app_role(role)
        except ValueError as error:
            raise CommandError(str(error)) from error
        for statement in statements:
            self.stdout.write(f"{statement};")
