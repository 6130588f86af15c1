"""Web and workers run as a role that does not own the audit tables: it appends and reads events,
and cannot disable the triggers, update, delete or truncate them."""

import io
import uuid

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.utils import DatabaseError

from control_plane.audit.models import AuditEvent
from tests.audit.helpers import write_events

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_app_role():
    """Switch the test's connection to a fresh application role (roles are cluster-wide: the
    name is unique per test so parallel workers do not meet)."""
    role = f"cp_app_{uuid.uuid4().hex[:12]}"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE ROLE "{role}" NOLOGIN')
    call_command("audit_grant_app_role", role, stdout=io.StringIO())
    with connection.cursor() as cursor:
        cursor.execute(f'SET ROLE "{role}"')
    yield role
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")


def _refused(sql: str) -> str:
    with pytest.raises(DatabaseError) as caught, transaction.atomic(), connection.cursor() as c:
        c.execute(sql)
    return str(caught.value)


def test_the_application_role_appends_and_reads_events(as_app_role):
    first, second = write_events(2)
    assert second.prev_hash == first.hash
    assert AuditEvent.objects.filter(chain="tenant:acme").count() == 2


def test_the_application_role_cannot_rewrite_history(as_app_role):
    event = write_events(1)[0]
    assert "must be owner" in _refused("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
    assert "permission denied" in _refused(
        f"UPDATE audit_auditevent SET actor = 'mallory' WHERE id = {event.pk}"
    )
    assert "permission denied" in _refused(f"DELETE FROM audit_auditevent WHERE id = {event.pk}")
    assert "permission denied" in _refused("TRUNCATE audit_auditevent")
    assert "must be owner" in _refused("DROP TRIGGER audit_event_append_only ON audit_auditevent")


def test_a_role_name_that_is_not_plain_is_refused():
    with pytest.raises(CommandError, match="not a plain PostgreSQL role name"):
        call_command("audit_grant_app_role", 'app"; DROP TABLE x; --')
