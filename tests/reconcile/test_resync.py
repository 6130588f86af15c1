"""The resync queues each due object once, however many ticks run while it waits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from control_plane import resync as tasks
from control_plane.reconcile import Lease, claim, release
from endpoints.models import Endpoint
from tenants.models import Tenant

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch) -> list[tuple[str, int]]:
    messages: list[tuple[str, int]] = []
    monkeypatch.setattr(tasks, "send_reconcile", lambda name, pk: messages.append((name, pk)))
    # Messages wait in the broker: queued marks are honoured.
    monkeypatch.setattr(tasks, "queued_message_count", lambda: 1)
    return messages


def test_many_resync_ticks_while_a_reconcile_is_queued_queue_it_once(world, sent):
    # As if the services' own messages were lost: every object is due and none marked queued.
    Tenant.objects.update(reconcile_queued_until=None)
    Endpoint.objects.update(reconcile_queued_until=None)
    for _ in range(50):
        tasks.resync()
    objects = Tenant.objects.count() + Endpoint.objects.count()
    assert len(sent) == objects
    assert len(set(sent)) == objects


def test_a_claimed_object_can_be_queued_again_once_it_is_due(world, sent):
    Endpoint.objects.update(reconcile_queued_until=None)
    tasks.resync()
    sent.clear()
    pk = world.own_endpoint.pk
    held = claim(Endpoint, pk)
    assert isinstance(held, Lease)
    release(held)
    Endpoint.objects.filter(pk=pk).update(next_check_at=timezone.now() - timedelta(seconds=1))
    tasks.resync()
    assert sent == [("endpoints.reconcile_endpoint", pk)]


def test_a_change_queued_by_a_service_is_not_queued_again_by_the_resync(world, sent):
    tasks.resync()
    # The endpoints were created through the service, which queued them; the tenants were not.
    assert [name for name, _ in sent if name == "endpoints.reconcile_endpoint"] == []
    assert len(sent) == Tenant.objects.count()


def test_a_lost_message_is_queued_again_after_the_mark_expires(world, sent):
    Tenant.objects.update(reconcile_queued_until=None)
    Endpoint.objects.update(reconcile_queued_until=None)
    tasks.resync()
    sent.clear()
    Tenant.objects.filter(pk=world.own.pk).update(
        reconcile_queued_until=timezone.now() - timedelta(seconds=1)
    )
    tasks.resync()
    assert sent == [("tenants.reconcile_tenant", world.own.pk)]


def test_once_the_queue_is_empty_marked_objects_are_queued_again(world, sent, monkeypatch):
    tasks.resync()
    queued_before = len(sent)
    sent.clear()
    # The worker that held the messages was killed: the queue is empty, the marks remain.
    monkeypatch.setattr(tasks, "queued_message_count", lambda: 0)
    tasks.resync()
    assert len(sent) == Tenant.objects.count() + Endpoint.objects.count()
    assert queued_before < len(sent)
