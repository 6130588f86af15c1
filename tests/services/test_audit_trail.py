import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.utils import DatabaseError

from control_plane.audit.chain import GENESIS_HASH
from control_plane.audit.models import AuditEvent
from control_plane.audit.services import record
from control_plane.errors import PermissionDenied
from tenants import services
from tests.factories import TenantFactory, member, platform_user, principal, system

pytestmark = pytest.mark.django_db


def _write_events(count: int, tenant_slug: str = "acme") -> list[AuditEvent]:
    return [
        record(
            actor=system(),
            action="test.event",
            target_type="thing",
            target_id=index,
            tenant_slug=tenant_slug,
            changes={"n": {"before": index, "after": index + 1}},
        )
        for index in range(count)
    ]


def test_events_of_a_tenant_form_a_hash_chain():
    first, second, third = _write_events(3)
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash
    assert third.prev_hash == second.hash
    assert [e.sequence for e in (first, second, third)] == [1, 2, 3]
    assert {e.chain for e in (first, second, third)} == {"tenant:acme"}


def test_platform_wide_events_form_their_own_chain():
    tenant_event = _write_events(1)[0]
    platform_event = record(actor=system(), action="x", target_type="y", target_id=1)
    assert platform_event.chain == "platform"
    assert platform_event.sequence == 1
    assert tenant_event.sequence == 1


def test_secrets_are_redacted_in_changes():
    event = record(
        actor=system(),
        action="x",
        target_type="y",
        target_id=1,
        changes={"secret_hash": {"before": None, "after": "abc"}, "hf_token": "hf_123"},
    )
    assert event.changes == {"secret_hash": "[redacted]", "hf_token": "[redacted]"}


def test_api_key_creation_is_audited_without_the_key():
    user = platform_user("admin")
    _, plaintext = services.api_key_create(actor=principal(user), name="ci")
    event = AuditEvent.objects.get(action="apikey.create")
    assert plaintext not in str(event.changes)
    assert event.actor_user_id == user.pk


def test_every_mutation_of_the_foundation_is_audited():
    admin = principal(platform_user("admin"))
    tenant = services.tenant_create(actor=admin, slug="acme", display_name="Acme")
    services.tenant_update(actor=admin, tenant=tenant, display_name="Acme Corp")
    services.quota_update(actor=admin, tenant=tenant, values=services.QuotaValues(gpus=2))
    membership = services.membership_add(
        actor=admin,
        tenant=tenant,
        username=member(TenantFactory(), "viewer").username,
        role="viewer",
    )
    services.membership_update(actor=admin, membership=membership, role="deployer")
    services.membership_remove(actor=admin, membership=membership)
    key, _ = services.api_key_create(actor=admin, name="ci")
    services.api_key_revoke(actor=admin, key=key)
    services.tenant_delete(actor=admin, tenant=tenant)
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions == [
        "tenant.create",
        "tenant.update",
        "quota.update",
        "membership.create",
        "membership.update",
        "membership.delete",
        "apikey.create",
        "apikey.revoke",
        "tenant.delete",
    ]
    call_command("audit_verify")


def test_update_and_delete_are_rejected_by_the_database():
    event = _write_events(1)[0]
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(action="tampered")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    with connection.cursor() as cursor:
        # Integration tests switch it off to flush their committed rows (tests/integration).
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_event_no_truncate")
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("TRUNCATE audit_auditevent")


def _tamper(sql: str, params: list) -> None:
    """Edit the table as an attacker with owner rights would: with the triggers disabled."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER USER")


def test_audit_verify_reports_an_edited_event(capsys):
    events = _write_events(4)
    call_command("audit_verify")
    _tamper("UPDATE audit_auditevent SET actor = 'mallory' WHERE id = %s", [events[2].pk])
    with pytest.raises(CommandError, match="1 of 1 audit chains are broken"):
        call_command("audit_verify")
    err = capsys.readouterr().err
    assert "tenant:acme at sequence 3" in err
    assert "edited" in err


def test_audit_verify_reports_a_removed_event(capsys):
    events = _write_events(4)
    _tamper("DELETE FROM audit_auditevent WHERE id = %s", [events[1].pk])
    with pytest.raises(CommandError):
        call_command("audit_verify")
    assert "sequence 3" in capsys.readouterr().err


def test_audit_verify_reports_removed_newest_events(capsys):
    events = _write_events(3)
    _tamper("DELETE FROM audit_auditevent WHERE id = %s", [events[2].pk])
    with pytest.raises(CommandError):
        call_command("audit_verify")
    assert "newest events were removed" in capsys.readouterr().err


def test_denied_attempt_is_kept_although_the_change_is_not():
    tenant = TenantFactory()
    viewer = principal(member(tenant, "viewer"))
    with pytest.raises(PermissionDenied):
        services.tenant_update(actor=viewer, tenant=tenant, display_name="hijacked")
    tenant.refresh_from_db()
    assert tenant.display_name != "hijacked"
    event = AuditEvent.objects.get()
    assert (event.outcome, event.action, event.actor) == ("denied", "tenant.update", viewer.label)
    assert event.source_address == "127.0.0.1"


def test_numbers_jsonb_rewrites_keep_the_chain_verifiable():
    """jsonb gives 1e16 back as 10000000000000000 and -0.0 as 0.0: the hash is taken over the
    value as it will be read back, so such a change does not break the chain."""
    changes = {"big": 1e16, "huger": [2.5e300], "zero": -0.0, "small": 1.5e-7, "tenth": 0.1}
    event = record(
        actor=system(), action="test.numbers", target_type="thing", target_id=1, changes=changes
    )
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.changes == event.changes
    assert stored.changes["big"] == 10**16
    assert isinstance(stored.changes["big"], int)
    call_command("audit_verify")
