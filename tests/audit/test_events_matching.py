"""The audit list's compiled read answers what the filtered queryset answers, for every scope."""

from __future__ import annotations

import pytest

from control_plane.audit.models import AuditEvent
from control_plane.audit.selectors import audit_events_matching, audit_events_visible_to
from control_plane.audit.services import record
from control_plane.auth.principal import Principal
from tests.factories import system

pytestmark = pytest.mark.django_db

CALLERS = {
    "auditor": Principal(kind="user", platform_role="auditor"),
    "admin of acme": Principal(kind="user", administered_tenant_slugs=frozenset({"acme"})),
    "admin of three": Principal(
        kind="user", administered_tenant_slugs=frozenset({"acme", "beta", "gamma"})
    ),
    "admin of none": Principal(kind="user"),
}
FILTERS = [
    {},
    {"tenant_slug": "acme"},
    {"tenant_slug": "beta"},
    {"action": "endpoint.create"},
    {"tenant_slug": "acme", "outcome": AuditEvent.Outcome.DENIED},
    {"actor": "system", "action": "endpoint.delete", "outcome": AuditEvent.Outcome.SUCCESS},
]


@pytest.fixture
def events():
    for i in range(30):
        record(
            actor=system(),
            action=("endpoint.create", "endpoint.delete", "quota.update")[i % 3],
            target_type="endpoint",
            target_id=i,
            tenant_slug=("acme", "beta", "delta")[i % 4 % 3],
            outcome=AuditEvent.Outcome.DENIED if i % 5 == 0 else AuditEvent.Outcome.SUCCESS,
        )


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("exact", FILTERS, ids=lambda exact: ",".join(exact) or "none")
def test_compiled_rows_are_the_filtered_querysets_newest_first(events, caller, exact):
    actor = CALLERS[caller]
    expected = audit_events_visible_to(actor=actor).filter(**exact)

    rows = audit_events_matching(actor=actor, exact=exact)

    assert [e.pk for e in rows[0:100]] == [e.pk for e in expected[:100]]
    assert [e.pk for e in rows[3:7]] == [e.pk for e in expected[3:7]]
    assert rows.count() == expected.count()
    if caller == "auditor" and not exact:
        assert rows.count() == 30


def test_a_filter_the_compiled_read_does_not_know_is_refused():
    with pytest.raises(ValueError, match="occurred_at"):
        audit_events_matching(actor=CALLERS["auditor"], exact={"occurred_at": "2026-01-01"})
