"""Many writers in one tenant at once, with reconcilers running beside them, on PostgreSQL.

Every write service takes its locks in one order (tenant, then the tenant's rows, then the
audit chain head; docs/decisions/0006-lock-order.md), so these never deadlock; what PostgreSQL
still reports as a deadlock or serialization failure is retried, never answered as a 500.
"""

from __future__ import annotations

import contextlib
import threading
import traceback
from collections import Counter
from collections.abc import Callable

import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient

from control_plane.audit.chain import verify_chain
from control_plane.audit.models import AuditChainHead, AuditEvent
from control_plane.cluster.directory_backend import DirectoryBackend
from control_plane.errors import QuotaExceeded
from endpoints import services as endpoint_services
from endpoints.models import Endpoint
from endpoints.reconciler import reconcile_endpoint
from endpoints.selectors import committed_by_endpoints
from endpoints.services import lock_tenant
from scaling.policy import parse_change
from tenants.models import Membership, Quota
from tenants.reconciler import reconcile_tenant
from tenants.resources import overcommitted
from tenants.selectors import quota_limit
from tests.factories import UserFactory, system
from tests.world import build_world

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]

ENDPOINT_WRITERS = 11
CHAT_PATCHERS = 4
MEMBER_WRITERS = 4
ROUNDS = 3


class Run:
    """What every thread did: (what, HTTP status) per request, and exceptions of reconcilers."""

    def __init__(self, parties: int) -> None:
        self.start = threading.Barrier(parties)
        self.writers_done = threading.Event()
        self.lock = threading.Lock()
        self.responses: list[tuple[str, int]] = []
        self.errors: list[str] = []

    def answered(self, what: str, response) -> int:
        with self.lock:
            self.responses.append((what, response.status_code))
        return response.status_code

    def thread(self, body: Callable[[], None]) -> threading.Thread:
        def run() -> None:
            try:
                self.start.wait(timeout=30)
                body()
            except BaseException as error:  # reported by the test, with its traceback
                with self.lock:
                    self.errors.append("".join(traceback.format_exception(error)))
            finally:
                connection.close()

        return threading.Thread(target=run)

    def succeeded(self, what: str) -> int:
        return sum(1 for kind, code in self.responses if kind == what and code < 300)


def _endpoint_writer(run: Run, client, index: int, model_pk: int) -> Callable[[], None]:
    def body() -> None:
        for round_ in range(ROUNDS):
            name = f"w{index}-{round_}"
            url = f"/api/v1/tenants/acme/endpoints/{name}/"
            created = client.post(
                "/api/v1/tenants/acme/endpoints/",
                {"name": name, "model_version": model_pk, "scaling": {"max_replicas": 2}},
                format="json",
            )
            if run.answered("endpoint.create", created) != 201:
                continue
            patch = {"scaling": {"max_replicas": 1}}
            run.answered("endpoint.update", client.patch(url, patch, format="json"))
            run.answered("endpoint.delete", client.delete(url))

    return body


def _chat_patcher(run: Run, client, index: int) -> Callable[[], None]:
    def body() -> None:
        for round_ in range(ROUNDS * 2):
            target = 16 + (index * ROUNDS * 2 + round_) % 48
            response = client.patch(
                "/api/v1/tenants/acme/endpoints/chat/",
                {"scaling": {"target_in_flight_per_replica": target}},
                format="json",
            )
            run.answered("chat.update", response)

    return body


def _member_writer(run: Run, client, username: str) -> Callable[[], None]:
    def body() -> None:
        url = f"/api/v1/tenants/acme/members/{username}/"
        for _ in range(ROUNDS):
            added = client.post(
                "/api/v1/tenants/acme/members/",
                {"username": username, "role": "viewer"},
                format="json",
            )
            if run.answered("membership.create", added) != 201:
                continue
            run.answered(
                "membership.update", client.patch(url, {"role": "deployer"}, format="json")
            )
            run.answered("membership.delete", client.delete(url))

    return body


def _quota_writer(run: Run, client) -> Callable[[], None]:
    def body() -> None:
        for round_ in range(ROUNDS * 2):
            response = client.put(
                "/api/v1/tenants/acme/quota/",
                {
                    "gpus": 40 + round_ % 2,
                    "max_endpoints": 12,
                    "cpu": "512",
                    "memory": "4Ti",
                    "mig_slices": {},
                },
                format="json",
            )
            run.answered("quota.update", response)

    return body


def _reconciler(run: Run, backend: DirectoryBackend, tenant_pk: int) -> Callable[[], None]:
    def body() -> None:
        while not run.writers_done.is_set():
            reconcile_tenant(tenant_pk, backend=backend)
            for pk in Endpoint.objects.filter(tenant_id=tenant_pk).values_list("pk", flat=True):
                reconcile_endpoint(pk, backend=backend)

    return body


@pytest.fixture
def world(transactional_db):
    return build_world()


@pytest.fixture
def client_for(world):
    def make(role: str) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.keys[role]}")
        return client

    return make


def test_concurrent_writers_in_one_tenant_never_fail_and_each_change_is_audited_once(
    client_for, world, tmp_path
):
    Quota.objects.filter(tenant=world.own).update(gpus=40, max_endpoints=12)
    backend = DirectoryBackend(tmp_path / "manifests")
    reconcile_tenant(world.own.pk, backend=backend)
    usernames = [UserFactory(username=f"member{i}").username for i in range(MEMBER_WRITERS)]

    writers = ENDPOINT_WRITERS + CHAT_PATCHERS + MEMBER_WRITERS + 1
    run = Run(parties=writers + 2)
    admin = lambda: client_for("tenant_admin")  # noqa: E731  (one client per thread)
    bodies = (
        [
            _endpoint_writer(run, admin(), i, world.platform_model.pk)
            for i in range(ENDPOINT_WRITERS)
        ]
        + [_chat_patcher(run, admin(), i) for i in range(CHAT_PATCHERS)]
        + [_member_writer(run, admin(), username) for username in usernames]
        + [_quota_writer(run, client_for("platform_admin"))]
    )
    writer_threads = [run.thread(body) for body in bodies]
    reconcilers = [run.thread(_reconciler(run, backend, world.own.pk)) for _ in range(2)]
    for thread in writer_threads + reconcilers:
        thread.start()
    for thread in writer_threads:
        thread.join(timeout=120)
    run.writers_done.set()
    for thread in reconcilers:
        thread.join(timeout=60)

    assert run.errors == []
    statuses = Counter(code for _, code in run.responses)
    assert not [code for code in statuses if code >= 500], statuses
    assert run.succeeded("endpoint.create") > 0

    events = Counter(
        AuditEvent.objects.filter(
            tenant_slug="acme", outcome=AuditEvent.Outcome.SUCCESS
        ).values_list("action", flat=True)
    )
    own_endpoint_events = Counter(
        AuditEvent.objects.filter(
            tenant_slug="acme", outcome=AuditEvent.Outcome.SUCCESS, target_id__startswith="w"
        ).values_list("action", flat=True)
    )
    for action in ("endpoint.create", "endpoint.update", "endpoint.delete"):
        assert own_endpoint_events[action] == run.succeeded(action), action
    for action in ("membership.create", "membership.update", "membership.delete"):
        assert events[action] == run.succeeded(action), action
    # One quota writer alternating between two values: every accepted PUT is a change.
    assert events["quota.update"] == run.succeeded("quota.update")

    head = AuditChainHead.objects.get(chain="tenant:acme")
    chain_events = AuditEvent.objects.filter(chain="tenant:acme").order_by("sequence")
    assert verify_chain("tenant:acme", chain_events, head=(head.sequence, head.hash)) is None

    quota = Quota.objects.get(tenant=world.own)
    committed = committed_by_endpoints(tenant=world.own)
    assert overcommitted(committed=committed, limit=quota_limit(quota)) == []
    assert Membership.objects.filter(tenant=world.own, role="admin").exists()


def _at_once(count: int, request: Callable[[int], object]) -> list:
    """Run `request(i)` for i in range(count) in threads released together; their results."""
    start, results, errors = threading.Barrier(count), [None] * count, []

    def run(index: int) -> None:
        try:
            start.wait(timeout=30)
            results[index] = request(index)
        except BaseException as error:  # reported by the test, with its traceback
            errors.append("".join(traceback.format_exception(error)))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    return results


def test_parallel_deletes_of_one_endpoint_change_it_once_with_one_audit_event(client_for, world):
    clients = [client_for("tenant_admin") for _ in range(20)]
    responses = _at_once(20, lambda i: clients[i].delete("/api/v1/tenants/acme/endpoints/chat/"))

    assert {response.status_code for response in responses} == {202}
    assert AuditEvent.objects.filter(action="endpoint.delete", target_id="chat").count() == 1
    assert Endpoint.objects.get(pk=world.own_endpoint.pk).generation == (
        world.own_endpoint.generation + 1
    )


def test_parallel_revokes_of_one_key_change_it_once_with_one_audit_event(client_for, world):
    owner = client_for("viewer")
    prefix = owner.post("/api/v1/api-keys/", {"name": "ci"}, format="json").json()["prefix"]
    clients = [client_for("viewer") for _ in range(20)]
    responses = _at_once(20, lambda i: clients[i].delete(f"/api/v1/api-keys/{prefix}/"))

    codes = Counter(response.status_code for response in responses)
    assert codes == Counter({200: 1, 409: 19})
    assert AuditEvent.objects.filter(action="apikey.revoke", target_id=prefix).count() == 1


def test_concurrent_removals_of_the_last_two_admins_leave_one_admin(client_for, world):
    second = UserFactory(username="second-admin")
    Membership.objects.create(tenant=world.own, user=second, role="admin")
    first = world.users["tenant_admin"].username
    clients = [client_for("platform_admin") for _ in range(2)]
    targets = [first, second.username]
    responses = _at_once(
        2, lambda i: clients[i].delete(f"/api/v1/tenants/acme/members/{targets[i]}/")
    )

    assert sorted(response.status_code for response in responses) == [204, 409]
    assert Membership.objects.filter(tenant=world.own, role="admin").count() == 1


def test_concurrent_demotions_of_the_last_two_admins_leave_one_admin(client_for, world):
    second = UserFactory(username="second-admin")
    Membership.objects.create(tenant=world.own, user=second, role="admin")
    targets = [world.users["tenant_admin"].username, second.username]
    clients = [client_for("platform_admin") for _ in range(2)]
    responses = _at_once(
        2,
        lambda i: clients[i].patch(
            f"/api/v1/tenants/acme/members/{targets[i]}/", {"role": "viewer"}, format="json"
        ),
    )

    assert sorted(response.status_code for response in responses) == [200, 409]
    assert Membership.objects.filter(tenant=world.own, role="admin").count() == 1


def test_concurrent_patches_of_different_scaling_fields_both_hold(client_for, world):
    """Each PATCH merges over the policy as read inside its own transaction: a change of the
    cooldown never writes back a stale maximum, nor the reverse."""
    url = "/api/v1/tenants/acme/endpoints/chat/"
    clients = [client_for("deployer") for _ in range(10)]

    def patch(i: int):
        body = {"max_replicas": 3 + i // 2} if i % 2 == 0 else {"cooldown_s": 100 + i}
        return clients[i].patch(url, {"scaling": body}, format="json")

    responses = _at_once(10, patch)
    assert {response.status_code for response in responses} == {200}
    changes = AuditEvent.objects.filter(action="endpoint.update").order_by("id")
    maxima = [
        e.changes["scaling.max_replicas"]["after"]
        for e in changes
        if "scaling.max_replicas" in e.changes
    ]
    cooldowns = [
        e.changes["scaling.cooldown_s"]["after"]
        for e in changes
        if "scaling.cooldown_s" in e.changes
    ]
    policy = Endpoint.objects.get(pk=world.own_endpoint.pk).scaling_policy
    # Whatever order the writers ran in, the stored policy holds the last change of each field.
    assert policy.max_replicas == maxima[-1]
    assert policy.cooldown_s == cooldowns[-1]
    assert sorted(maxima) == [3, 4, 5, 6, 7]
    assert sorted(cooldowns) == [101, 103, 105, 107, 109]


@contextlib.contextmanager
def _tenant_row_held(tenant):
    """Another transaction holds the tenant row (as a create or a scaling change does for its
    admission) for the block; yields the event it sets once it has let go."""
    holding, release, left = threading.Event(), threading.Event(), threading.Event()

    def hold_the_tenant() -> None:
        try:
            with transaction.atomic():
                lock_tenant(tenant)
                holding.set()
                release.wait(timeout=15)
            left.set()
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_tenant)
    holder.start()
    try:
        assert holding.wait(timeout=10)
        yield left
    finally:
        release.set()
        holder.join(timeout=30)


def test_an_endpoint_delete_does_not_wait_for_the_tenant_lock(client_for, world):
    """A delete admits nothing, so it goes through while a create or a scaling change holds
    the tenant row for its quota admission (docs/decisions/0006-lock-order.md)."""
    client = client_for("deployer")
    with _tenant_row_held(world.own) as left:
        deleted = _at_once(1, lambda _: client.delete("/api/v1/tenants/acme/endpoints/chat/"))
        # Answered while the other transaction still held the tenant row.
        assert not left.is_set()
        assert deleted[0].status_code == 202
    assert Endpoint.objects.get(pk=world.own_endpoint.pk).state == Endpoint.State.DELETING


def test_a_scaling_change_that_lowers_the_maximum_does_not_wait_for_the_tenant_lock(
    client_for, world
):
    """Only a higher maximum needs admission: scaling an endpoint down goes through while
    another write holds the tenant's admission lock; scaling it up waits for it."""
    url = "/api/v1/tenants/acme/endpoints/chat/"
    client = client_for("deployer")
    with _tenant_row_held(world.own) as left:
        lowered = _at_once(
            1, lambda _: client.patch(url, {"scaling": {"max_replicas": 1}}, format="json")
        )
        assert not left.is_set()
        assert lowered[0].status_code == 200
    raised = client.patch(url, {"scaling": {"max_replicas": 3}}, format="json")
    assert raised.status_code == 200
    assert Endpoint.objects.get(pk=world.own_endpoint.pk).scaling_policy.max_replicas == 3


def test_a_maximum_raised_between_the_unlocked_read_and_the_locks_is_admitted_after_all(
    world, monkeypatch
):
    """The unlocked read said "no higher maximum" (as if a concurrent change had raised the
    stored one meanwhile); under the locks the change does raise it, so the service runs again
    with the tenant lock, and admission refuses what the quota (8 GPUs) cannot hold."""
    answers = iter([False])
    monkeypatch.setattr(endpoint_services, "may_raise_max_replicas", lambda *_: next(answers, True))
    with pytest.raises(QuotaExceeded):
        endpoint_services.endpoint_update_scaling(
            actor=system(), endpoint=world.own_endpoint, change=parse_change({"max_replicas": 9})
        )
    assert next(answers, "all used") == "all used"
    assert Endpoint.objects.get(pk=world.own_endpoint.pk).scaling_policy.max_replicas == 2
