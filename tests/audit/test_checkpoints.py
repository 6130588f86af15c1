"""Signed checkpoints outside the database catch rows rewritten after them, even with every hash
recomputed; proofs of live events check against them."""

import io
import json
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from control_plane.audit.chain import verify_chain
from control_plane.audit.checkpoints import CheckpointMismatch, checkpoint_files
from control_plane.audit.models import AuditChainHead, AuditEvent
from control_plane.audit.tasks import checkpoint as checkpoint_task
from tests.audit.helpers import rewrite_with_recomputed_hashes, write_events

pytestmark = pytest.mark.django_db


def _checkpoint() -> Path:
    call_command("audit_checkpoint", stdout=io.StringIO())
    return checkpoint_files(Path(django_settings.AUDIT_CHECKPOINT_DIRECTORY))[-1][1]


def _verify() -> str:
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    return out.getvalue()


def test_a_checkpoint_signs_every_chain_and_names_its_predecessor(audit_key):
    write_events(3, "acme")
    first = json.loads(_checkpoint().read_text())
    write_events(2, "acme")
    write_events(1, "beta")
    second = json.loads(_checkpoint().read_text())
    assert first["chains"]["tenant:acme"]["count"] == 3
    assert second["chains"]["tenant:acme"]["count"] == 5
    assert second["chains"]["tenant:beta"]["count"] == 1
    assert first["previous"] is None
    assert second["previous"]["number"] == 1
    assert "match 2 checkpoints" in _verify()


def test_rows_rewritten_after_a_checkpoint_with_recomputed_hashes_are_caught(audit_key, capsys):
    write_events(4, "acme")
    _checkpoint()
    write_events(2, "acme")
    _checkpoint()
    rewrite_with_recomputed_hashes("tenant:acme", 3, actor="mallory")
    # The chain walk alone finds nothing: every hash and the head were recomputed.
    head = AuditChainHead.objects.get(chain="tenant:acme")
    events = AuditEvent.objects.filter(chain="tenant:acme").order_by("sequence")
    assert verify_chain("tenant:acme", events, head=(head.sequence, head.hash)) is None
    with pytest.raises(CommandError, match="do not match"):
        call_command("audit_verify", stdout=io.StringIO())
    err = capsys.readouterr().err
    assert "chain tenant:acme: its first 4 events no longer match checkpoint 1" in err
    assert "between sequence 1 and 4 were rewritten" in err
    failure = AuditEvent.objects.get(action="audit.verify")
    assert failure.outcome == "failure"


def test_removed_newest_events_are_caught_by_the_checkpoint(audit_key, capsys):
    write_events(3, "beta")
    _checkpoint()
    rewrite_with_recomputed_hashes("tenant:beta", 3)  # unchanged: still matches
    assert "match 1 checkpoints" in _verify()
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
        cursor.execute("DELETE FROM audit_auditevent WHERE chain = 'tenant:beta' AND sequence = 3")
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER USER")
    with pytest.raises(CommandError):
        call_command("audit_verify", stdout=io.StringIO())
    assert "it has 2 events but checkpoint 1 recorded 3" in capsys.readouterr().err


def test_a_removed_or_replaced_checkpoint_is_caught(audit_key, capsys):
    write_events(1, "acme")
    _checkpoint()
    middle = _checkpoint()
    _checkpoint()
    middle.unlink()
    with pytest.raises(CommandError):
        call_command("audit_verify", stdout=io.StringIO())
    assert "checkpoint 3" in capsys.readouterr().err


def test_a_checkpoint_is_not_signed_over_a_rewritten_database(audit_key):
    write_events(3, "acme")
    _checkpoint()
    rewrite_with_recomputed_hashes("tenant:acme", 2, reason="rewritten")
    with pytest.raises(CommandError, match="not signed"):
        call_command("audit_checkpoint", stdout=io.StringIO())
    assert len(checkpoint_files(Path(django_settings.AUDIT_CHECKPOINT_DIRECTORY))) == 1
    assert AuditEvent.objects.filter(action="audit.verify", outcome="failure").exists()


def test_the_beat_task_writes_a_checkpoint_on_its_schedule(audit_key):
    write_events(1, "acme")
    entry = django_settings.CELERY_BEAT_SCHEDULE["audit-checkpoint"]
    assert entry["task"] == checkpoint_task.name
    assert entry["schedule"] == django_settings.AUDIT_CHECKPOINT_INTERVAL_SECONDS
    path = Path(checkpoint_task.apply().get())
    assert json.loads(path.read_text())["chains"]["tenant:acme"]["count"] == 1
    rewrite_with_recomputed_hashes("tenant:acme", 1, actor="mallory")
    with pytest.raises(CheckpointMismatch):
        checkpoint_task.apply().get()


def test_a_live_event_is_proven_against_the_latest_checkpoint(audit_key, tmp_path, capsys):
    events = write_events(6, "acme")
    with pytest.raises(CommandError, match="newer than the latest checkpoint"):
        call_command("audit_verify", "--prove", str(events[2].pk))
    _checkpoint()
    proof = tmp_path / "proof.json"
    call_command(
        "audit_verify", "--prove", str(events[2].pk), "--output", str(proof), stdout=io.StringIO()
    )
    document = json.loads(proof.read_text())
    assert (document["leaf_index"], document["tree_size"]) == (2, 6)
    out = io.StringIO()
    call_command("audit_verify", "--check-proof", str(proof), stdout=out)
    assert "is leaf 2 of the signed tree of 6 events" in out.getvalue()
    document["event"]["target_id"] = "999"
    proof.write_text(json.dumps(document))
    with pytest.raises(CommandError):
        call_command("audit_verify", "--check-proof", str(proof))
    assert "its content does not match its hash" in capsys.readouterr().err
