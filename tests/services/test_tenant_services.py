import pytest

from control_plane.audit.models import AuditEvent
from control_plane.errors import Conflict, PermissionDenied, QuotaExceeded, ValidationFailed
from tenants import services
from tenants.models import Tenant
from tests.factories import TenantFactory, member, platform_user, principal

pytestmark = pytest.mark.django_db


def test_platform_admin_creates_a_tenant_with_its_quota_and_an_audit_event():
    admin = principal(platform_user("admin"))
    tenant = services.tenant_create(
        actor=admin,
        slug="acme",
        display_name="Acme",
        quota=services.QuotaValues(gpus=4, mig_slices={"1g.10gb": 2}, max_endpoints=3),
    )
    assert tenant.namespace == "tenant-acme"
    assert tenant.quota.gpus == 4
    event = AuditEvent.objects.get(action="tenant.create")
    assert event.tenant_slug == "acme"
    assert event.actor == "platform-admin"
    assert event.changes["gpus"] == {"before": None, "after": 4}
    assert event.request_id == "test-request"


def test_tenant_slug_must_be_a_dns_label_short_enough_for_the_namespace():
    admin = principal(platform_user("admin"))
    with pytest.raises(ValidationFailed) as bad:
        services.tenant_create(actor=admin, slug="Not_A_Label", display_name="x")
    assert bad.value.field == "slug"
    with pytest.raises(ValidationFailed) as long:
        services.tenant_create(actor=admin, slug="a" * 57, display_name="x")
    assert long.value.field == "slug"
    assert not Tenant.objects.exists()


def test_duplicate_slug_is_a_conflict():
    admin = principal(platform_user("admin"))
    services.tenant_create(actor=admin, slug="acme", display_name="Acme")
    with pytest.raises(Conflict):
        services.tenant_create(actor=admin, slug="acme", display_name="Acme again")


def test_a_tenant_admin_cannot_change_the_quota_and_the_attempt_is_audited():
    tenant = TenantFactory()
    tenant_admin = principal(member(tenant, "admin"))
    with pytest.raises(PermissionDenied):
        services.quota_update(
            actor=tenant_admin, tenant=tenant, values=services.QuotaValues(gpus=100)
        )
    denied = AuditEvent.objects.get(action="quota.update")
    assert denied.outcome == "denied"
    assert denied.tenant_slug == tenant.slug
    tenant.quota.refresh_from_db()
    assert tenant.quota.gpus == 8


def test_unknown_mig_profile_is_refused_naming_the_field():
    tenant = TenantFactory()
    admin = principal(platform_user("admin"))
    with pytest.raises(ValidationFailed) as error:
        services.quota_update(
            actor=admin, tenant=tenant, values=services.QuotaValues(mig_slices={"9g.99gb": 1})
        )
    assert error.value.field == "mig_slices"


def test_quota_update_bumps_generation_and_records_before_and_after():
    tenant = TenantFactory()
    admin = principal(platform_user("admin"))
    services.quota_update(
        actor=admin,
        tenant=tenant,
        values=services.QuotaValues(
            gpus=2, max_endpoints=5, cpu_millicores=128_000, memory_bytes=1024 * 2**30
        ),
    )
    tenant.refresh_from_db()
    assert tenant.generation == 2
    event = AuditEvent.objects.get(action="quota.update")
    assert event.changes["gpus"] == {"before": 8, "after": 2}
    assert "max_endpoints" not in event.changes


def test_last_admin_cannot_be_demoted():
    tenant = TenantFactory()
    only_admin = member(tenant, "admin")
    membership = only_admin.memberships.get()
    with pytest.raises(Conflict):
        services.membership_update(
            actor=principal(only_admin), membership=membership, role="viewer"
        )


def test_quota_refusal_type_is_a_conflict():
    assert issubclass(QuotaExceeded, Conflict)
