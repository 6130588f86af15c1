"""The streamed export route, its manifest beside it, and the public key: scoping, filters, pins,
errors in the API's shape, and an export that verifies offline."""

import csv
import io
import json
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command

from control_plane.audit.models import AuditEvent
from control_plane.audit.services import record
from tests.factories import system

pytestmark = pytest.mark.django_db
EXPORT = "/api/v1/audit-events/export/"


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


def _rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(_body(response).decode())))


def test_a_tenant_admin_exports_only_their_tenants_rows(world, client_for, audit_key):
    response = client_for("tenant_admin").get(EXPORT, {"format": "csv"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = _rows(response)
    assert rows
    assert {row["tenant_slug"] for row in rows} == {world.own.slug}


def test_a_tenant_admin_asking_for_another_tenant_gets_404(world, client_for, audit_key):
    response = client_for("tenant_admin").get(EXPORT, {"format": "csv", "tenant": "globex"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("role", ["deployer", "viewer"])
def test_other_tenant_roles_export_nothing_of_their_tenant(world, client_for, audit_key, role):
    response = client_for(role).get(EXPORT, {"format": "csv", "tenant": world.own.slug})
    assert response.status_code == 404


@pytest.mark.parametrize("role", ["auditor", "platform_admin"])
def test_auditors_and_platform_admins_export_every_tenant(world, client_for, audit_key, role):
    rows = _rows(client_for(role).get(EXPORT, {"format": "csv"}))
    assert {world.own.slug, world.foreign.slug, ""} <= {row["tenant_slug"] for row in rows}


def test_filters_select_the_rows(world, client_for, audit_key):
    record(actor=system(), action="x.denied", target_type="t", target_id=1, outcome="denied")
    response = client_for("auditor").get(
        EXPORT, {"format": "jsonl", "outcome": "denied", "since": "2000-01-01T00:00:00+02:00"}
    )
    assert response["Content-Type"] == "application/x-ndjson"
    rows = [json.loads(line) for line in _body(response).decode().splitlines()]
    assert [row["action"] for row in rows] == ["x.denied"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({}, "format"),
        ({"format": "xml"}, "format"),
        ({"format": "csv", "since": "yesterday"}, "since"),
        ({"format": "csv", "outcome": "maybe"}, "outcome"),
        ({"format": "csv", "max_event_id": "-1"}, "max_event_id"),
        ({"format": "csv", "until": "9999-12-31T23:59:59-23:00"}, "until"),
    ],
)
def test_bad_queries_answer_400_naming_the_field(world, client_for, audit_key, query, field):
    response = client_for("auditor").get(EXPORT, query, HTTP_ACCEPT="text/csv")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_a_streamed_export_and_its_manifest_verify_offline(world, client_for, audit_key, tmp_path):
    client = client_for("tenant_admin")
    response = client.get(EXPORT, {"format": "csv", "tenant": world.own.slug})
    export = tmp_path / "export.csv"
    export.write_bytes(_body(response))
    # Events after the export do not change what its manifest describes: the Link pins them.
    record(actor=system(), action="later", target_type="t", target_id=1, tenant_slug="acme")
    link = urlsplit(response["Link"].split(";")[0].strip("<>"))
    manifest = client.get(f"{link.path}?{link.query}")
    assert manifest.status_code == 200
    assert manifest.json()["max_event_id"] == int(response["X-Audit-Export-Max-Event-Id"])
    (tmp_path / "manifest.json").write_text(json.dumps(manifest.json()))
    public = tmp_path / "public.pem"
    public.write_text(client.get("/api/v1/audit/public-key/").json()["public_key_pem"])
    out = io.StringIO()
    call_command(
        "audit_verify",
        "--export",
        str(export),
        "--manifest",
        str(tmp_path / "manifest.json"),
        "--public-key",
        str(public),
        stdout=out,
    )
    assert "OK" in out.getvalue()


def test_the_streamed_export_is_audited_on_the_tenants_chain(world, client_for, audit_key):
    client_for("tenant_admin").get(EXPORT, {"format": "jsonl", "tenant": world.own.slug})
    event = AuditEvent.objects.get(action="audit.export")
    assert (event.chain, event.actor) == (f"tenant:{world.own.slug}", "acme-admin")
    assert event.changes["format"] == "jsonl"


def test_the_public_key_route_and_command_agree(world, client_for, audit_key):
    body = client_for("viewer").get("/api/v1/audit/public-key/").json()
    out = io.StringIO()
    call_command("audit_public_key", stdout=out, stderr=io.StringIO())
    assert body["public_key_pem"] == out.getvalue()
    assert body["algorithm"] == "ed25519"


def test_a_missing_configured_key_answers_503_not_500(world, client_for, settings, tmp_path):
    settings.AUDIT_SIGNING_KEY_FILE = str(tmp_path / "absent.pem")
    settings.AUDIT_SIGNING_KEY_GENERATE = False
    response = client_for("auditor").get(EXPORT, {"format": "csv"})
    assert response.status_code == 503
    assert "AUDIT_SIGNING_KEY_FILE" in response.json()["error"]["message"]
