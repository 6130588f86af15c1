"""The manifest's chain heads: each chain's last event at the export's pin, in the caller's
scope, read a chain at a time."""

import pytest

from control_plane.audit.models import AuditEvent
from control_plane.audit.selectors import chain_heads_at
from control_plane.audit.services import record
from tests.factories import TenantFactory, member, principal, system

pytestmark = pytest.mark.django_db


def _event(tenant_slug: str) -> AuditEvent:
    return record(
        actor=system(),
        action="test.event",
        target_type="thing",
        target_id="x",
        tenant_slug=tenant_slug,
    )


def _heads_of(events: list[AuditEvent]) -> dict[str, dict]:
    heads: dict[str, dict] = {}
    for event in sorted(events, key=lambda event: event.id):
        heads[event.chain] = {"sequence": event.sequence, "hash": event.hash}
    return heads


def _interleaved_events() -> tuple[list[AuditEvent], list[AuditEvent]]:
    """Events of three chains interleaved up to the pin, then more of two of them and a chain
    that starts after it."""
    before = [_event(slug) for slug in ["acme", "beta", "acme", "", "beta", "acme", "", "beta"]]
    after = [_event(slug) for slug in ["acme", "gamma", "", "acme"]]
    return before, after


def test_chain_heads_are_each_chains_last_event_at_the_pin():
    before, after = _interleaved_events()
    pin = before[-1].id

    heads = chain_heads_at(actor=system(), tenant=None, max_event_id=pin)

    assert heads == _heads_of(before)
    assert list(heads) == ["platform", "tenant:acme", "tenant:beta"]
    assert heads["tenant:acme"]["sequence"] == 3
    assert chain_heads_at(actor=system(), tenant=None, max_event_id=after[-1].id) == _heads_of(
        before + after
    )


def test_chain_heads_between_a_chains_events_stop_at_the_pin():
    before, _ = _interleaved_events()
    pin = before[3].id  # acme has two events by then, beta one, the platform one

    heads = chain_heads_at(actor=system(), tenant=None, max_event_id=pin)

    assert {chain: head["sequence"] for chain, head in heads.items()} == {
        "platform": 1,
        "tenant:acme": 2,
        "tenant:beta": 1,
    }
    assert heads == _heads_of(before[:4])
    assert chain_heads_at(actor=system(), tenant=None, max_event_id=0) == {}


def test_chain_heads_hold_only_the_exported_tenant_and_the_callers_chains():
    before, after = _interleaved_events()
    pin = after[-1].id
    beta_admin = principal(member(TenantFactory(slug="beta"), "admin"))

    assert list(chain_heads_at(actor=system(), tenant="beta", max_event_id=pin)) == ["tenant:beta"]
    assert chain_heads_at(actor=beta_admin, tenant=None, max_event_id=pin) == _heads_of(
        [event for event in before if event.chain == "tenant:beta"]
    )
