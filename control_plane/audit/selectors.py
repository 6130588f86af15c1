from __future__ import annotations

from django.db.models import QuerySet

from control_plane.audit.models import AuditEvent
from control_plane.auth.principal import Principal


def audit_events_visible_to(*, actor: Principal) -> QuerySet[AuditEvent]:
    """Auditors and platform admins see every chain; tenant admins see their tenants' events."""
    events = AuditEvent.objects.all()
    if actor.reads_all_tenants:
        return events
    from tenants.models import Tenant

    admin_of = [tenant_id for tenant_id, role in actor.tenant_roles.items() if role == "admin"]
    slugs = Tenant.objects.filter(pk__in=admin_of).values("slug")
    return events.filter(tenant_slug__in=slugs)
