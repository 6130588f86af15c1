"""Print a new API key for a user, for automation that cannot click through the console."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from tenants.principals import principal_for_user
from tenants.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for USERNAME and print it (shown once)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="created by manage.py create_api_key")
        parser.add_argument("--expires-in-days", type=int, default=None)

    def handle(self, *args, username: str, name: str, expires_in_days: int | None, **options):
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user {username!r}.")
        if expires_in_days is not None and expires_in_days < 1:
            raise CommandError("--expires-in-days must be at least 1.")
        expires_at = timezone.now() + timedelta(days=expires_in_days) if expires_in_days else None
        actor = principal_for_user(user, request_id="manage.py create_api_key")
        _, plaintext = api_key_create(actor=actor, name=name, expires_at=expires_at)
        self.stdout.write(plaintext)
