"""Canary rollouts end to end: a real Prometheus scraping two vLLM simulators (stable and
canary, one per revision), traffic split by the endpoint's canary weight as the gateway would,
and the rollout reconciler driven tick by tick with compressed intervals."""

from __future__ import annotations

import contextlib
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from django.conf import settings

from control_plane.audit.models import AuditEvent
from control_plane.cluster.directory_backend import DirectoryBackend
from control_plane.reconcile import Lease, claim
from control_plane.render_context import RenderContext
from endpoints import services as endpoint_services
from endpoints.models import Endpoint, Rollout
from endpoints.reconciler import ENDPOINTS, desired_objects, reconcile_endpoint
from endpoints.rollouts import transitions
from endpoints.rollouts.reconciler import reconcile_rollout
from endpoints.rollouts.services import rollout_start
from scaling.vllm_simulator import SimulatorConfig, VllmSimulator
from tests import servers
from tests.factories import system
from tests.manifests.validation import validate_all
from tests.world import build_world, gpu_model_spec, make_endpoint

pytestmark = pytest.mark.django_db

NAMESPACE = "tenant-acme"
ENDPOINT = "assistant"
# Fast enough that a few seconds hold dozens of requests, with a spread of first-token times
# (log-normal) for the comparison to work on.
BASE = {"ttft_ms": 20.0, "ttft_sigma": 0.3, "itl_ms": 1.0, "default_max_tokens": 2}


class Gateway:
    """Sends `rate` requests per second, each to the canary with probability `weight` %: the
    weighted random split an HTTPRoute makes."""

    def __init__(self, stable: VllmSimulator, canary: VllmSimulator, rate: float) -> None:
        self.stable, self.canary, self.rate = stable, canary, rate
        self.weight = 0
        self._stop = threading.Event()
        self._rng = random.Random(5)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _one(self, simulator: VllmSimulator) -> None:
        body = {"model": simulator.config.model, "prompt": "word " * 40}
        with contextlib.suppress(requests.RequestException):
            requests.post(f"{simulator.url}/v1/completions", json=body, timeout=10)

    def _run(self) -> None:
        with ThreadPoolExecutor(max_workers=8) as pool:
            while not self._stop.is_set():
                to_canary = self._rng.random() * 100 < self.weight
                pool.submit(self._one, self.canary if to_canary else self.stable)
                time.sleep(self._rng.expovariate(self.rate))

    def __enter__(self) -> Gateway:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _labels(revision: str) -> dict[str, str]:
    return {"namespace": NAMESPACE, "tenant": "acme", "endpoint": ENDPOINT, "revision": revision}


@pytest.fixture
def simulators():
    stable = VllmSimulator(SimulatorConfig(seed=1, **BASE))
    canary = VllmSimulator(SimulatorConfig(seed=2, **BASE))
    stable.start()
    canary.start()
    yield stable, canary
    stable.stop()
    canary.stop()


def _scrape(prometheus: servers.PrometheusServer, stable, canary) -> None:
    prometheus.scrape(
        [
            (stable.url.removeprefix("http://"), _labels(f"{ENDPOINT}-r1")),
            (canary.url.removeprefix("http://"), _labels(f"{ENDPOINT}-r2")),
        ]
    )


@pytest.fixture
def scraped(prometheus_session, simulators, settings):
    _scrape(prometheus_session, *simulators)
    settings.PROMETHEUS_URL = prometheus_session.url
    yield simulators
    prometheus_session.scrape([])


@pytest.fixture
def rollout_world(settings, tmp_path):
    settings.ROLLOUT_MIN_INTERVAL_SECONDS = 1
    settings.ROLLOUT_DRAIN_SECONDS = 0
    world = build_world()
    endpoint = make_endpoint(world.own, ENDPOINT, world.platform_model, min_replicas=0)
    backend = DirectoryBackend(tmp_path / "manifests")
    from tenants.reconciler import reconcile_tenant

    reconcile_tenant(world.own.pk, backend=backend)
    reconcile_endpoint(endpoint.pk, backend=backend)
    new_version = endpoint_services.model_version_create(
        actor=system(), tenant=None, spec=gpu_model_spec(version="2")
    )
    return endpoint, new_version, backend, tmp_path / "manifests"


# The gate lets a healthy canary fail with a chance of up to alpha over a whole rollout, by
# design (decision 0009): at the default 0.05 a test expecting promotion could fail one run in
# twenty, more when a loaded machine delays one side's requests in a window. At 0.001 the
# threshold is 6000 instead of 120; the tests of a regressed canary keep the default.
HEALTHY = {"gates": {"min_requests": 5, "alpha": 0.001}}


def _verdicts(rollout: Rollout) -> list[tuple[str, str]]:
    return list(rollout.checks.order_by("number").values_list("verdict", "reason"))


def _start(endpoint, version, **settings) -> Rollout:
    spec = {
        "steps": [10, 50, 100],
        "analysis_interval_s": 3,
        "bake_s": 3,
        "warmup_s": 1,
        "gates": {"min_requests": 5},
    }
    spec.update(settings)
    return rollout_start(
        actor=system(),
        endpoint=Endpoint.objects.get(pk=endpoint.pk),
        model_version=version,
        settings=spec,
    )


def _drive(
    rollout: Rollout,
    backend,
    gateway: Gateway | None,
    *,
    until,
    timeout: float,
    on_tick=None,
) -> Rollout:
    """Reconcile the endpoint (it applies weights) and the rollout every quarter second, as the
    workers would, until `until(rollout)` holds."""
    deadline = time.monotonic() + timeout
    while True:
        reconcile_endpoint(rollout.endpoint_id, backend=backend)
        reconcile_rollout(rollout.pk, backend=backend)
        reconcile_endpoint(rollout.endpoint_id, backend=backend)
        endpoint = Endpoint.objects.get(pk=rollout.endpoint_id)
        if gateway is not None:
            gateway.weight = endpoint.canary_weight
        rollout.refresh_from_db()
        if on_tick is not None:
            on_tick(rollout, endpoint)
        if until(rollout):
            return rollout
        if time.monotonic() > deadline:
            checks = list(rollout.checks.values_list("verdict", "reason"))
            raise AssertionError(f"rollout {rollout.state} after {timeout} s; checks {checks}")
        time.sleep(0.25)


def _files(root: Path, revision: str) -> list[str]:
    return sorted(p.name for p in root.rglob("*.yaml") if revision in p.name)


def _route_and_interceptor(endpoint: Endpoint) -> tuple[dict, dict | None]:
    # Loaded as the endpoint reconciler loads it, with every revision's relations.
    objects = desired_objects(ENDPOINTS.load(endpoint.pk), RenderContext.from_settings(settings))
    validate_all(objects)
    route = next(o for o in objects if o["kind"] == "HTTPRoute")
    interceptor = next((o for o in objects if o["kind"] == "InterceptorRoute"), None)
    return route, interceptor


def test_a_healthy_canary_is_promoted_through_every_step(rollout_world, scraped):
    endpoint, version, backend, root = rollout_world
    rollout = _start(endpoint, version, **HEALTHY)
    weights_seen: list[int] = []

    def record_step(rollout: Rollout, endpoint: Endpoint) -> None:
        if rollout.is_active and endpoint.canary_weight not in weights_seen:
            weights_seen.append(endpoint.canary_weight)
            route, interceptor = _route_and_interceptor(endpoint)
            backends = route["spec"]["rules"][0]["backendRefs"]
            assert [b["weight"] for b in backends] == [
                100 - endpoint.canary_weight,
                endpoint.canary_weight,
            ]
            # The stable side goes through the interceptor while it may be at zero; the
            # canary is referenced directly.
            assert backends[1]["name"] == f"{ENDPOINT}-r2"
            assert interceptor["spec"]["target"]["service"] == f"{ENDPOINT}-r1"

    with Gateway(*scraped, rate=30) as gateway:
        rollout = _drive(
            rollout,
            backend,
            gateway,
            until=lambda r: r.retired_at is not None,
            timeout=60,
            on_tick=record_step,
        )
    assert rollout.state == Rollout.State.PROMOTED, _verdicts(rollout)
    assert weights_seen == [10, 50]
    verdicts = list(rollout.checks.values_list("verdict", flat=True))
    assert verdicts.count("pass") >= 2
    assert "fail" not in verdicts
    endpoint.refresh_from_db()
    assert endpoint.stable_revision.kubernetes_name == f"{ENDPOINT}-r2"
    assert endpoint.canary_revision is None
    assert endpoint.retiring_revision is None
    _route, interceptor = _route_and_interceptor(endpoint)
    assert interceptor["spec"]["target"]["service"] == f"{ENDPOINT}-r2"
    assert _files(root, f"{ENDPOINT}-r1") == []
    assert _files(root, f"{ENDPOINT}-r2")
    promotion = AuditEvent.objects.get(action="rollout.promote")
    last_pass = rollout.checks.filter(verdict="pass").order_by("number").last()
    assert promotion.changes["check"]["number"] == last_pass.number
    # Every pass saw at least the minimum on both sides. The first check may be inconclusive
    # (no scrape of the canary yet under a loaded machine), so the passes are what is pinned.
    for check in rollout.checks.filter(verdict="pass"):
        assert check.canary["requests"] >= 5, check.canary
        assert check.stable["requests"] >= 5, check.stable
        assert "ttft_vs_stable" in check.statistics
        # Six tests at alpha 0.001 (HEALTHY), not the default's 120.
        assert check.statistics["ttft_vs_stable"]["threshold"] == pytest.approx(6000)
        assert "vllm:time_to_first_token_seconds_bucket" in check.queries["canary"]["ttft"]


def test_a_canary_twice_as_slow_is_rolled_back_and_its_objects_removed(rollout_world, scraped):
    endpoint, version, backend, root = rollout_world
    stable, canary = scraped
    canary.reconfigure(latency_factor=2.0)
    rollout = _start(endpoint, version, steps=[25, 100], bake_s=60)
    with Gateway(stable, canary, rate=30) as gateway:
        rollout = _drive(
            rollout, backend, gateway, until=lambda r: r.retired_at is not None, timeout=60
        )
    assert rollout.state == Rollout.State.ROLLED_BACK
    failed = rollout.checks.get(verdict="fail")
    assert "time to first token" in failed.reason
    event = AuditEvent.objects.get(action="rollout.rollback")
    assert event.changes["check"]["number"] == failed.number
    endpoint.refresh_from_db()
    assert endpoint.stable_revision.kubernetes_name == f"{ENDPOINT}-r1"
    assert endpoint.canary_revision is None
    assert endpoint.canary_weight == 0
    assert _files(root, f"{ENDPOINT}-r2") == []


def test_a_canary_with_five_percent_errors_is_rolled_back(rollout_world, scraped):
    endpoint, version, backend, _ = rollout_world
    stable, canary = scraped
    canary.reconfigure(error_rate=0.05)
    rollout = _start(endpoint, version, steps=[50, 100], bake_s=120)
    with Gateway(stable, canary, rate=40) as gateway:
        rollout = _drive(rollout, backend, gateway, until=lambda r: not r.is_active, timeout=90)
    assert rollout.state == Rollout.State.ROLLED_BACK
    assert "error" in rollout.checks.get(verdict="fail").reason


def test_too_little_traffic_is_inconclusive_holds_the_step_and_pauses(rollout_world, scraped):
    endpoint, version, backend, _ = rollout_world
    rollout = _start(endpoint, version, inconclusive_limit=2, gates={"min_requests": 50})
    with Gateway(*scraped, rate=2) as gateway:
        rollout = _drive(
            rollout,
            backend,
            gateway,
            until=lambda r: not r.is_active or r.state == "paused",
            timeout=40,
        )
    assert rollout.state == Rollout.State.PAUSED
    assert rollout.weight == 10
    verdicts = set(rollout.checks.values_list("verdict", flat=True))
    assert verdicts == {"inconclusive"}
    assert "too few requests" in rollout.checks.last().reason
    assert AuditEvent.objects.filter(action="rollout.pause").count() == 1


def test_prometheus_stopped_mid_rollout_is_inconclusive_and_never_promotes(
    rollout_world, simulators, settings
):
    endpoint, version, backend, _ = rollout_world
    with contextlib.ExitStack() as stack:
        prometheus = stack.enter_context(servers.prometheus_server())
        _scrape(prometheus, *simulators)
        settings.PROMETHEUS_URL = prometheus.url
        rollout = _start(endpoint, version, bake_s=60, inconclusive_limit=2)
        with Gateway(*simulators, rate=30) as gateway:
            rollout = _drive(
                rollout,
                backend,
                gateway,
                until=lambda r: r.checks.filter(verdict="pass").exists(),
                timeout=40,
            )
            stack.close()  # Prometheus is gone from here on
            rollout = _drive(
                rollout, backend, gateway, until=lambda r: r.state == "paused", timeout=40
            )
    assert rollout.state == Rollout.State.PAUSED
    last = rollout.checks.last()
    assert last.verdict == "inconclusive"
    assert "Prometheus did not answer" in last.reason
    assert not AuditEvent.objects.filter(action="rollout.promote").exists()


def test_a_worker_killed_mid_check_leaves_nothing_half_done_and_the_next_tick_continues(
    rollout_world, scraped, monkeypatch
):
    endpoint, version, backend, _ = rollout_world
    rollout = _start(endpoint, version, **HEALTHY)

    class WorkerKilled(BaseException):
        """What SIGKILL looks like from inside: nothing after it runs."""

    written_before_the_kill = []

    def killed(rollout, *args, **kwargs):
        written_before_the_kill.append(rollout.checks.count())
        raise WorkerKilled

    with Gateway(*scraped, rate=30) as gateway:
        rollout = _drive(
            rollout, backend, gateway, until=lambda r: r.state == "progressing", timeout=30
        )
        with monkeypatch.context() as patched:
            patched.setattr(transitions, "advance", killed)
            with pytest.raises(WorkerKilled):
                _drive(rollout, backend, gateway, until=lambda r: False, timeout=30)
        rollout.refresh_from_db()
        # The check, its counters and the step change were one transaction: none of it stayed.
        assert rollout.checks.count() == written_before_the_kill[0] - 1
        assert rollout.step == 0
        assert rollout.step_passed_seconds == 0
        # The killed worker's lease holds the rollout until it expires.
        Rollout.objects.filter(pk=rollout.pk).update(reconcile_lease_until=None)
        assert isinstance(claim(Rollout, rollout.pk), Lease)
        Rollout.objects.filter(pk=rollout.pk).update(reconcile_lease_until=None)
        rollout = _drive(
            rollout, backend, gateway, until=lambda r: r.retired_at is not None, timeout=60
        )
    assert rollout.state == Rollout.State.PROMOTED, _verdicts(rollout)


def test_a_direct_rollout_replaces_the_stable_revision_once_ready(rollout_world):
    endpoint, version, backend, root = rollout_world
    rollout = rollout_start(
        actor=system(),
        endpoint=Endpoint.objects.get(pk=endpoint.pk),
        model_version=version,
        settings={"strategy": "direct"},
    )
    rollout = _drive(rollout, backend, None, until=lambda r: r.retired_at is not None, timeout=10)
    assert rollout.state == Rollout.State.PROMOTED
    assert not rollout.checks.exists()
    assert _files(root, f"{ENDPOINT}-r1") == []
