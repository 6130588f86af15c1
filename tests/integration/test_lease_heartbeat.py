"""A reconcile's lease is short and renewed by a heartbeat while the reconcile runs: a long
reconcile keeps its object, a dead worker's object is taken over within one lease, and a holder
that lost its lease cannot touch the next holder's."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from control_plane.reconcile import Claim, Heartbeat, Lease, claim, lease, release, renew
from control_plane.reconcile_driver import Outcome, run
from tenants.models import Tenant
from tests.factories import TenantFactory

# The heartbeat runs in its own thread, on its own database connection: it sees only what is
# committed.
pytestmark = pytest.mark.django_db(transaction=True)

LEASE_SECONDS = 1


@pytest.fixture
def short_lease(settings) -> float:
    settings.RECONCILE_LEASE_SECONDS = LEASE_SECONDS
    return LEASE_SECONDS


@pytest.fixture
def tenant() -> Tenant:
    return TenantFactory()


class SlowKind:
    """A kind whose reconcile runs until the test lets it finish."""

    model = Tenant
    target_type = "tenant"

    def __init__(self) -> None:
        self.started = threading.Event()
        self.finish = threading.Event()

    def load(self, pk: int) -> Tenant | None:
        return Tenant.objects.filter(pk=pk).first()

    def reconcile(self, obj: Tenant, backend) -> Outcome:
        self.started.set()
        if not self.finish.wait(timeout=30):
            raise TimeoutError("the test never let the reconcile finish")
        return Outcome.UNCHANGED

    def audit_target(self, obj: Tenant) -> tuple[str, str]:
        return obj.slug, obj.slug


def _sleep_past(until) -> None:
    time.sleep(max((until - timezone.now()).total_seconds(), 0) + 0.05)


def test_a_reconcile_longer_than_its_lease_keeps_its_object(short_lease, tenant):
    kind, outcomes = SlowKind(), []

    def worker() -> None:
        try:
            outcomes.append(run(kind, tenant.pk, backend=None))
        finally:
            connection.close()

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        assert kind.started.wait(timeout=10)
        first_expiry = Tenant.objects.get(pk=tenant.pk).reconcile_lease_until
        _sleep_past(first_expiry + timedelta(seconds=short_lease))
        second = claim(Tenant, tenant.pk)
    finally:
        kind.finish.set()
        thread.join(timeout=30)
    assert second is Claim.BUSY
    assert outcomes == [Outcome.UNCHANGED]
    # Released at the end: the next reconcile need not wait for the lease to run out.
    assert isinstance(claim(Tenant, tenant.pk), Lease)


def test_a_dead_holders_object_is_claimed_again_within_one_lease(short_lease, tenant):
    held = claim(Tenant, tenant.pk)
    heartbeat = Heartbeat(held, interval=short_lease / 4)
    time.sleep(short_lease / 2)
    # The worker dies: its heartbeat stops and nothing releases the lease.
    last = heartbeat.stop()
    died_at = timezone.now()
    assert last.until - died_at <= lease()
    assert claim(Tenant, tenant.pk) is Claim.BUSY
    _sleep_past(last.until)
    assert isinstance(claim(Tenant, tenant.pk), Lease)


def test_a_holder_that_lost_its_lease_neither_renews_nor_releases_the_next_one(tenant):
    first = claim(Tenant, tenant.pk)
    # The first holder stalled past its expiry, and another worker claimed the object.
    Tenant.objects.filter(pk=tenant.pk).update(reconcile_lease_until=timezone.now())
    second = claim(Tenant, tenant.pk)
    assert isinstance(second, Lease)
    assert renew(first) is None
    release(first)
    assert claim(Tenant, tenant.pk) is Claim.BUSY
    assert isinstance(renew(second), Lease)


def test_a_heartbeat_stops_once_its_lease_is_taken(short_lease, tenant):
    heartbeat = Heartbeat(claim(Tenant, tenant.pk), interval=0.05)
    Tenant.objects.filter(pk=tenant.pk).update(reconcile_lease_until=None)
    deadline = time.monotonic() + 5
    while not heartbeat.lost and time.monotonic() < deadline:
        time.sleep(0.02)
    heartbeat.stop()
    assert heartbeat.lost
    assert Tenant.objects.get(pk=tenant.pk).reconcile_lease_until is None
