"""An export verifies offline against its signed manifest; every kind of tampering fails, saying
where."""

import csv
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from control_plane.audit import export_service
from control_plane.audit.chain import HASHED_FIELDS, event_hash
from control_plane.audit.models import AuditEvent
from control_plane.audit.services import record
from control_plane.audit.verify import read_events, recomputed_hash
from tests.audit.helpers import write_events
from tests.factories import system

pytestmark = pytest.mark.django_db


@pytest.fixture
def exported(audit_key, tmp_path):
    def export(export_format: str = "csv", *extra: str):
        output, manifest = tmp_path / f"export.{export_format}", tmp_path / "manifest.json"
        call_command(
            "audit_export",
            "--format",
            export_format,
            "--output",
            str(output),
            "--manifest",
            str(manifest),
            *extra,
            stdout=io.StringIO(),
        )
        return output, manifest

    write_events(5, "acme")
    write_events(2, "beta")
    # Every character the CSV and COPY encodings escape, in a text field and in `changes`.
    record(
        actor=system(),
        action="test.event",
        target_type="thing",
        target_id='a,b "c"',
        tenant_slug="beta",
        changes={"path": "C:\\temp\\new", "tab": "a\tb"},
        reason='line one\nline two\t"quoted", back\\slash',
    )
    return export


def _verify(output, manifest, *extra: str) -> str:
    out = io.StringIO()
    call_command(
        "audit_verify", "--export", str(output), "--manifest", str(manifest), *extra, stdout=out
    )
    return out.getvalue()


def _failure(capsys, output, manifest, *extra: str) -> str:
    with pytest.raises(CommandError, match="does not verify"):
        _verify(output, manifest, *extra)
    return capsys.readouterr().err


@pytest.mark.parametrize("export_format", ["csv", "jsonl"])
def test_an_export_verifies_against_its_manifest(exported, export_format):
    output, manifest = exported(export_format)
    assert "holds the 8 events its manifest signs" in _verify(output, manifest)
    document = json.loads(manifest.read_text())
    assert document["row_count"] == 8
    assert document["chain_heads"]["tenant:acme"]["sequence"] == 5
    assert document["first_event_id"] < document["last_event_id"]


def test_csv_rows_hold_every_field_and_both_hashes(exported):
    output, _ = exported("csv")
    rows = list(csv.DictReader(output.open(newline="")))
    event = AuditEvent.objects.get(pk=rows[0]["id"])
    assert rows[0]["hash"] == event.hash
    assert rows[0]["prev_hash"] == event.prev_hash
    assert json.loads(rows[0]["changes"]) == event.changes
    assert set(HASHED_FIELDS) <= set(rows[0])


def test_a_changed_byte_fails_naming_the_row(exported, capsys):
    output, manifest = exported("csv")
    output.write_text(output.read_text().replace("thing", "thinG", 1))
    err = _failure(capsys, output, manifest)
    assert "row 1 (event id" in err
    assert "content does not match its hash" in err
    assert "its sha256 is" in err


def test_a_removed_row_fails_naming_the_gap(exported, capsys):
    output, manifest = exported("jsonl")
    lines = output.read_text().splitlines(keepends=True)
    output.write_text("".join(lines[:2] + lines[3:]))
    err = _failure(capsys, output, manifest)
    assert "it has 7 rows, the manifest says 8" in err
    assert "jumps from sequence 2 (row 2) to 4: rows between them are missing" in err


def test_a_reordered_row_fails_naming_the_row(exported, capsys):
    output, manifest = exported("jsonl")
    lines = output.read_text().splitlines(keepends=True)
    lines[1], lines[2] = lines[2], lines[1]
    output.write_text("".join(lines))
    err = _failure(capsys, output, manifest)
    assert "row 3 (event id" in err
    assert "rows are out of order" in err


def test_a_forged_row_with_a_recomputed_hash_fails_at_its_successor(exported, capsys):
    output, manifest = exported("jsonl")
    lines = output.read_text().splitlines(keepends=True)
    forged = json.loads(lines[1])
    forged["actor"] = "mallory"
    forged["hash"] = event_hash({name: forged[name] for name in HASHED_FIELDS})
    lines[1] = json.dumps(forged, separators=(",", ":"), ensure_ascii=False) + "\n"
    output.write_text("".join(lines))
    err = _failure(capsys, output, manifest)
    assert "row 3 (event id" in err
    assert "prev_hash does not match the hash of row 2" in err
    assert "Merkle root" in err


def test_a_manifest_signed_by_another_key_fails(exported, audit_key, other_key, settings, capsys):
    settings.AUDIT_SIGNING_KEY_FILE = str(other_key)
    output, manifest = exported("csv")
    err = _failure(capsys, output, manifest, "--public-key", str(audit_key))
    assert "manifest: the signature does not verify with public key" in err
    assert "signed by another key" in err


def test_the_verifier_needs_only_the_public_key(exported, tmp_path):
    output, manifest = exported("csv")
    public = tmp_path / "public.pem"
    call_command("audit_public_key", stdout=public.open("w"), stderr=io.StringIO())
    assert "PUBLIC KEY" in public.read_text()
    assert "holds the 8" in _verify(output, manifest, "--public-key", str(public))


def test_filters_bound_the_export(exported):
    output, manifest = exported("jsonl", "--tenant", "beta", "--outcome", "success")
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    assert {row["tenant_slug"] for row in rows} == {"beta"}
    assert len(rows) == 3
    assert set(json.loads(manifest.read_text())["chain_heads"]) == {"tenant:beta"}
    _verify(output, manifest)


def test_an_export_is_audited_with_what_it_held(exported):
    exported("csv", "--tenant", "acme")
    event = AuditEvent.objects.get(action="audit.export")
    assert event.chain == "tenant:acme"
    assert event.changes["row_count"] == 5
    assert event.changes["filters"]["tenant"] == "acme"


def test_a_failed_verification_is_audited(exported, capsys):
    output, manifest = exported("csv")
    output.write_text(output.read_text()[:-2] + "\n")
    _failure(capsys, output, manifest)
    failure = AuditEvent.objects.get(action="audit.verify")
    assert failure.outcome == "failure"
    assert "sha256" in failure.reason


def test_an_inclusion_proof_verifies_and_fails_for_a_changed_event(exported, tmp_path, capsys):
    output, manifest = exported("csv")
    event_id = AuditEvent.objects.filter(chain="tenant:beta").order_by("id")[1].pk
    proof = tmp_path / "proof.json"
    call_command(
        "audit_verify",
        "--prove",
        str(event_id),
        "--export",
        str(output),
        "--manifest",
        str(manifest),
        "--output",
        str(proof),
        stdout=io.StringIO(),
    )
    out = io.StringIO()
    call_command("audit_verify", "--check-proof", str(proof), stdout=out)
    assert f"event {event_id} is leaf" in out.getvalue()
    document = json.loads(proof.read_text())
    document["event"]["reason"] = "nothing happened"
    proof.write_text(json.dumps(document))
    with pytest.raises(CommandError, match="does not verify"):
        call_command("audit_verify", "--check-proof", str(proof))
    assert f"event {event_id}: its content does not match its hash" in capsys.readouterr().err


@pytest.mark.parametrize("export_format", ["csv", "jsonl"])
def test_the_verifiers_hash_is_the_chains_hash_of_every_exported_row(exported, export_format):
    output, _ = exported(export_format)
    events = [event for _, event in read_events(output, export_format)]
    stored = {e.pk: e for e in AuditEvent.objects.all()}
    for event in events:
        fields = {name: getattr(stored[event["id"]], name) for name in HASHED_FIELDS}
        assert recomputed_hash(event) == event_hash(fields) == event["hash"]


@pytest.mark.parametrize("export_format", ["csv", "jsonl"])
def test_the_orm_encoding_of_other_databases_verifies_too(exported, export_format, monkeypatch):
    monkeypatch.setattr(export_service, "_copy_supported", lambda: False)
    output, manifest = exported(export_format)
    assert "holds the 8 events" in _verify(output, manifest)
