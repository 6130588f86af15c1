"""Retention: archiving exports the old events, deletes them through the one database function
allowed to, and leaves chains and checkpoints verifiable."""

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.utils import timezone

from control_plane.audit.models import AuditEvent
from tests.audit.helpers import write_events

pytestmark = pytest.mark.django_db


@pytest.fixture
def archived(audit_key, tmp_path):
    """Four acme and two beta events archived, then two more acme events."""
    write_events(4, "acme")
    write_events(2, "beta")
    before = timezone.now()
    write_events(1, "beta")
    call_command("audit_checkpoint", stdout=io.StringIO())
    out = io.StringIO()
    call_command(
        "audit_archive",
        "--before",
        before.isoformat(),
        "--output",
        str(tmp_path / "archive.jsonl"),
        "--manifest",
        str(tmp_path / "archive.json"),
        stdout=out,
    )
    write_events(2, "acme")
    return out.getvalue()


def test_archiving_removes_the_old_events_and_keeps_an_anchor(archived, tmp_path):
    assert "tenant:acme: 4 events archived" in archived
    assert "tenant:beta: 2 events archived" in archived
    acme = list(AuditEvent.objects.filter(chain="tenant:acme").order_by("sequence"))
    assert [event.sequence for event in acme] == [5, 6, 7]
    assert acme[0].action == "audit.archive"
    assert acme[0].changes["through_sequence"] == 4
    rows = (tmp_path / "archive.jsonl").read_text().splitlines()
    assert len(rows) == 6
    assert acme[0].prev_hash == json.loads(rows[3])["hash"]


def test_the_archive_export_verifies_against_its_manifest(archived, tmp_path):
    out = io.StringIO()
    call_command(
        "audit_verify",
        "--export",
        str(tmp_path / "archive.jsonl"),
        "--manifest",
        str(tmp_path / "archive.json"),
        stdout=out,
    )
    assert "holds the 6 events" in out.getvalue()


def test_the_remaining_chains_and_the_checkpoints_still_verify(archived):
    call_command("audit_checkpoint", stdout=io.StringIO())
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    assert "every link verified" in out.getvalue()
    assert "match 2 checkpoints" in out.getvalue()


def test_deleting_events_without_an_archive_record_is_refused(audit_key):
    write_events(3, "acme")
    with (
        pytest.raises(DatabaseError, match=r"no audit\.archive event"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SELECT audit_delete_archived('tenant:acme', 2)")
    assert AuditEvent.objects.filter(chain="tenant:acme").count() == 3


def test_events_removed_past_the_archive_are_caught(archived, capsys):
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
        cursor.execute("DELETE FROM audit_auditevent WHERE chain = 'tenant:acme' AND sequence = 5")
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER USER")
    with pytest.raises(CommandError):
        call_command("audit_verify", stdout=io.StringIO())
    assert "no audit.archive event covers the events before it" in capsys.readouterr().err


def test_the_archive_run_is_audited(archived):
    events = AuditEvent.objects.filter(action__in=["audit.archive", "audit.export"])
    assert {(e.action, e.chain) for e in events} == {
        ("audit.export", "platform"),
        ("audit.archive", "tenant:acme"),
        ("audit.archive", "tenant:beta"),
    }


def test_a_live_event_after_an_archive_is_proven_against_a_checkpoint(archived, tmp_path):
    call_command("audit_checkpoint", stdout=io.StringIO())
    event = AuditEvent.objects.filter(chain="tenant:acme").order_by("sequence").last()
    proof = tmp_path / "proof.json"
    call_command(
        "audit_verify", "--prove", str(event.pk), "--output", str(proof), stdout=io.StringIO()
    )
    assert json.loads(proof.read_text())["leaf_index"] == event.sequence - 1
    out = io.StringIO()
    call_command("audit_verify", "--check-proof", str(proof), stdout=out)
    assert f"is leaf {event.sequence - 1} of the signed tree of {event.sequence}" in out.getvalue()
