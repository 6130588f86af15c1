"""The discrete-event loop: arrivals, replica steps, scrapes, HPA syncs and KEDA polls.

Arrivals are read in order from the trace and merged with an event heap; everything random
(cold-start durations, the phases of the periodic loops) comes from one seeded generator, so a
seed fixes the result.
"""

from __future__ import annotations

import heapq
import random
from collections import deque
from dataclasses import dataclass
from datetime import timedelta

import numpy as np

from scaling.simulator.autoscaler import HPA_SYNC_S, Autoscaler, Observation
from scaling.simulator.hardware import ReplicaProfile
from scaling.simulator.profiles import DEFAULT_PROFILE
from scaling.simulator.replica import DRAINING, READY, STARTING, TERMINATED, Job, Replica
from scaling.simulator.report import SimResult, TimeSeries, percentile_ms
from scaling.simulator.schedule import floor_replicas
from scaling.simulator.trace import Request, Trace
from scaling.spec import ScalingSpec

# Event kinds, in the order they run when due at the same instant: replicas finish their steps
# before anyone samples the metrics.
_STEP, _READY, _TIMEOUT, _SCRAPE, _HPA, _KEDA = range(6)
# Window of the TTFT p95 query (histogram_quantile over rate(...[1m])).
_TTFT_WINDOW_S = 60.0
# Window of the prompt-token rate (rate(vllm:prompt_tokens_total[1m])).
_RATE_WINDOW_S = 60.0


@dataclass(frozen=True)
class SimConfig:
    profile: ReplicaProfile = DEFAULT_PROFILE
    slo_ttft_ms: float = 1000.0
    seed: int = 0
    # "cached": weights on a warm node; "uncached": image and weights pulled first.
    cold_start: str = "cached"
    # Interceptor's wait for a ready backend; None: the slowest expected cold start + 60 s.
    interceptor_timeout_s: float | None = None
    # Prometheus scrape interval: the HPA and KEDA see the queue as of the last scrape.
    scrape_interval_s: float = 15.0
    hpa_sync_s: float = HPA_SYNC_S
    # Replicas ready at t=0 (raised to the policy's floor). None: at least one, because a trace
    # is a window cut from a live service rather than the first minute of a new one; with a
    # warm-up, None means the policy's own floor.
    initial_replicas: int | None = None
    # Fair start: the trace's first `warmup_s` seconds are played once before it, and the policy
    # scales through them from its own state; requests, GPU-hours, cold starts and the series
    # count from the end of the warm-up only.
    warmup_s: float = 0.0
    # Share of each prompt found in vLLM's prefix cache (skipped by prefill, still attended).
    prefix_cache_hit: float = 0.0
    # Requests still unserved this long after the last arrival are dropped.
    drain_limit_s: float = 600.0
    series_bin_s: float = 10.0
    # Keep every HPA sync's per-trigger proposals in the result (`SimResult.syncs`).
    record_syncs: bool = False


def simulate(trace: Trace, spec: ScalingSpec, config: SimConfig | None = None) -> SimResult:
    return _Simulation(trace, spec, config or SimConfig()).run()


class _Simulation:
    def __init__(self, trace: Trace, spec: ScalingSpec, config: SimConfig) -> None:
        if config.warmup_s < 0:
            raise ValueError("warmup_s must not be negative")
        if not 0 <= config.prefix_cache_hit < 1:
            raise ValueError("prefix_cache_hit must be in [0, 1)")
        self.measured = len(trace.requests)
        self.t0 = config.warmup_s
        if config.warmup_s > 0:
            warm = [r for r in trace.requests if r.arrival_s < config.warmup_s]
            shifted = [
                Request(r.arrival_s + config.warmup_s, r.prompt_tokens, r.output_tokens)
                for r in trace.requests
            ]
            trace = Trace(warm + shifted, trace.start - timedelta(seconds=config.warmup_s))
        self.n_warm = len(trace.requests) - self.measured
        self.trace = trace
        self.spec = spec
        self.config = config
        self.profile = config.profile
        self.rng = random.Random(config.seed)
        self.autoscaler = Autoscaler(spec, record=config.record_syncs)
        if config.cold_start not in ("cached", "uncached"):
            raise ValueError(f"cold_start must be 'cached' or 'uncached', not {config.cold_start}")
        low, high = (
            self.profile.cold_start_cached_s
            if config.cold_start == "cached"
            else self.profile.cold_start_uncached_s
        )
        self.cold_start_range = (low, high)
        self.timeout_s = (
            config.interceptor_timeout_s
            if config.interceptor_timeout_s is not None
            else high + 60.0
        )
        self.max_tokens = min(self.profile.max_model_len, self.profile.kv_capacity_tokens)
        self.heap: list[tuple[float, int, int, object]] = []
        self.seq = 0
        self.replicas: list[Replica] = []  # every replica ever provisioned
        self.active: list[Replica] = []  # starting + ready: what the Deployment counts
        self.ready: list[Replica] = []
        self.held: dict[int, Job] = {}  # requests the interceptor holds for a ready backend
        self.in_flight = 0
        self.queued = 0  # waiting in vLLM on any replica + held by the interceptor
        self.peak_queue = 0
        self.waiting_scraped = 0
        self.in_flight_scraped = 0
        self.kv_usage_scraped = 0.0
        # Prompt tokens prefilled (first token given) in the rate window: (time, tokens).
        self.prefilled: deque[tuple[float, int]] = deque()
        self.prefilled_tokens = 0
        self.prompt_rate_scraped = 0.0
        self.ttft_window: deque[tuple[float, float]] = deque()
        self.cold_starts = 0
        self.cold_start_waiters = 0
        n = len(trace.requests)
        self.ttft = np.full(n, np.nan)
        self.done = np.zeros(n, dtype=bool)
        self.accounted = 0
        self.replica_log: list[tuple[float, int, int]] = [(0.0, 0, 0)]
        self.queue_log: list[tuple[float, int]] = []

    # --- event plumbing ---------------------------------------------------------------------

    def push(self, t: float, kind: int, obj: object = None) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (t, kind, self.seq, obj))

    def log_replicas(self, t: float) -> None:
        self.replica_log.append((t, len(self.active), len(self.ready)))

    # --- replicas ---------------------------------------------------------------------------

    def provision(self, t: float, ready_now: bool = False) -> None:
        delay = 0.0 if ready_now else self.rng.uniform(*self.cold_start_range)
        replica = Replica(len(self.replicas), self.profile, t)
        self.replicas.append(replica)
        self.active.append(replica)
        if ready_now:
            replica.state = READY
            self.ready.append(replica)
        else:
            if t >= self.t0:
                self.cold_starts += 1
            self.push(t + delay, _READY, replica)

    def scale_to(self, n: int, t: float) -> None:
        while len(self.active) < n:
            self.provision(t)
        # Like a ReplicaSet scaling down, remove pods that are not ready first (newest first),
        # then the ready pod with the least work. A ready pod drains: it takes no new requests
        # and finishes what it holds (vLLM's graceful shutdown) before its GPU is released.
        while len(self.active) > n:
            starting = [r for r in self.active if r.state == STARTING]
            if starting:
                victim = starting[-1]
                victim.state = TERMINATED
                victim.terminated_s = t
            else:
                victim = min(self.ready, key=lambda r: (r.in_flight, -r.name))
                self.ready.remove(victim)
                victim.state = DRAINING
                if victim.in_flight == 0:
                    victim.state = TERMINATED
                    victim.terminated_s = t
            self.active.remove(victim)
        self.log_replicas(t)

    def kick(self, replica: Replica, t: float) -> None:
        before = len(replica.waiting)
        end = replica.start_step(t)
        self.queued -= before - len(replica.waiting)
        if end is not None:
            self.push(end, _STEP, (replica, replica.version))
        elif replica.state == DRAINING and replica.in_flight == 0:
            replica.state = TERMINATED
            replica.terminated_s = t

    def dispatch(self, job: Job, t: float) -> None:
        # Least queued requests first, then least in flight.
        replica = min(self.ready, key=lambda r: (len(r.waiting), r.in_flight))
        replica.waiting.append(job)
        self.queued += 1
        if self.queued > self.peak_queue and t >= self.t0:
            self.peak_queue = self.queued
        if not replica.in_step:
            self.kick(replica, t)
            return
        end = replica.interrupt(t)
        if end is not None:
            self.push(end, _STEP, (replica, replica.version))

    def finish(self, job: Job, t: float, served: bool) -> None:
        self.in_flight -= 1
        self.accounted += 1
        self.done[job.rid] = served
        if self.in_flight == 0 and self.spec.scales_to_zero:
            # The interceptor's pushed concurrency drops to zero now: KEDA's last active time.
            self.autoscaler.mark_active(t)

    # --- metrics ----------------------------------------------------------------------------

    def observe(self, t: float) -> Observation:
        p95 = None
        if self.spec.ttft_p95_target_ms is not None:
            window = self.ttft_window
            while window and window[0][0] <= t - _TTFT_WINDOW_S:
                window.popleft()
            if window:
                p95 = float(np.percentile([v for _, v in window], 95))
        floor = 0
        if self.spec.schedule_floors:
            when = self.trace.start + timedelta(seconds=t)
            floor = floor_replicas(self.spec.schedule_floors, when)
        return Observation(
            self.waiting_scraped,
            p95,
            floor,
            self.in_flight,
            self.in_flight_scraped,
            self.kv_usage_scraped,
            self.prompt_rate_scraped,
        )

    # --- the loop ---------------------------------------------------------------------------

    def run(self) -> SimResult:
        spec, config = self.spec, self.config
        requests = self.trace.requests
        n = len(requests)
        floor0 = self.observe(0.0).floor
        initial = config.initial_replicas
        if initial is None:
            initial = 0 if config.warmup_s > 0 else 1
        initial = max(spec.min_replicas, floor0, initial)
        for _ in range(min(initial, spec.max_replicas)):
            self.provision(0.0, ready_now=True)
        self.log_replicas(0.0)
        rng = self.rng
        hit = config.prefix_cache_hit
        self.push(rng.uniform(0, config.scrape_interval_s), _SCRAPE)
        self.push(rng.uniform(0, config.hpa_sync_s), _HPA)
        self.push(rng.uniform(0, spec.polling_interval_s), _KEDA)
        stop_at = (requests[-1].arrival_s if requests else 0.0) + config.drain_limit_s
        heap = self.heap
        i = 0
        t = 0.0
        while self.accounted < n:
            if i < n and (not heap or requests[i].arrival_s < heap[0][0]):
                req = requests[i]
                t = req.arrival_s
                cached = min(int(req.prompt_tokens * hit), req.prompt_tokens - 1)
                self.arrive(Job(i, t, req.prompt_tokens, req.output_tokens, cached=cached), t)
                i += 1
                continue
            t, kind, _, obj = heapq.heappop(heap)
            if t > stop_at:
                t = stop_at
                break
            if kind == _STEP:
                replica, version = obj  # type: ignore[misc]
                if version == replica.version:
                    self.on_step(replica, t)
            elif kind == _READY:
                self.on_ready(obj, t)  # type: ignore[arg-type]
            elif kind == _TIMEOUT:
                job = self.held.pop(obj, None)  # type: ignore[call-overload]
                if job is not None:
                    self.queued -= 1
                    self.finish(job, t, served=False)
            elif kind == _SCRAPE:
                self.waiting_scraped = sum(len(r.waiting) for r in self.ready)
                self.in_flight_scraped = sum(r.in_flight for r in self.ready)
                capacity = self.profile.kv_capacity_tokens
                self.kv_usage_scraped = sum(min(1.0, r.kv_used / capacity) for r in self.ready)
                prefilled = self.prefilled
                while prefilled and prefilled[0][0] <= t - _RATE_WINDOW_S:
                    self.prefilled_tokens -= prefilled.popleft()[1]
                self.prompt_rate_scraped = self.prefilled_tokens / _RATE_WINDOW_S
                self.queue_log.append((t, self.queued))
                self.push(t + config.scrape_interval_s, _SCRAPE)
            elif kind == _HPA:
                current = len(self.active)
                desired = self.autoscaler.hpa_sync(t, current, self.observe(t))
                if desired != current:
                    self.scale_to(desired, t)
                self.push(t + config.hpa_sync_s, _HPA)
            else:
                change = self.autoscaler.keda_poll(t, len(self.active), self.observe(t))
                if change is not None:
                    self.scale_to(change, t)
                self.push(t + spec.polling_interval_s, _KEDA)
        # End of simulation: whatever is still unserved counts as dropped.
        for job in list(self.held.values()):
            self.finish(job, t, served=False)
        self.held.clear()
        for replica in self.replicas:
            for job in replica.drop_all():
                self.finish(job, t, served=False)
            if replica.state != TERMINATED:
                replica.terminated_s = t
        return self.result(t)

    def arrive(self, job: Job, t: float) -> None:
        self.in_flight += 1
        if job.prompt + job.output > self.max_tokens:
            self.finish(job, t, served=False)  # vLLM rejects a request longer than the model
            return
        if self.ready:
            self.dispatch(job, t)
            return
        # No ready backend: the interceptor holds the request until one is ready or it times out.
        self.held[job.rid] = job
        self.queued += 1
        if t >= self.t0:
            self.peak_queue = max(self.peak_queue, self.queued)
        if job.rid >= self.n_warm:
            self.cold_start_waiters += 1
        self.push(t + self.timeout_s, _TIMEOUT, job.rid)
        if not self.active and self.spec.scales_to_zero:
            # External-push trigger: the interceptor reports pending requests at once and KEDA
            # activates the workload without waiting for its polling interval.
            self.autoscaler.mark_active(t)
            self.scale_to(max(self.spec.min_replicas, 1), t)

    def on_step(self, replica: Replica, t: float) -> None:
        first, finished = replica.finish_step(t)
        for job in first:
            ttft = t - job.arrival_s
            self.ttft[job.rid] = ttft
            self.ttft_window.append((t, ttft))
            self.prefilled.append((t, job.prompt))
            self.prefilled_tokens += job.prompt
        for job in finished:
            self.finish(job, t, served=True)
        self.kick(replica, t)

    def on_ready(self, replica: Replica, t: float) -> None:
        if replica.state != STARTING:
            return  # scaled away while it was starting
        replica.state = READY
        self.ready.append(replica)
        self.log_replicas(t)
        held = list(self.held.values())
        self.held.clear()
        self.queued -= len(held)
        for job in held:
            self.dispatch(job, t)

    # --- result -----------------------------------------------------------------------------

    def result(self, end_s: float) -> SimResult:
        config = self.config
        t0, first = self.t0, self.n_warm
        n = self.measured
        gpu_s = sum(
            max(0.0, r.terminated_s - max(r.provisioned_s, t0))
            for r in self.replicas
            if r.terminated_s > t0
        )
        done, ttft = self.done[first:], self.ttft[first:]
        served_ttft = ttft[done]  # a request dropped after its first token is a miss
        within = done & (ttft <= config.slo_ttft_ms / 1000)
        met = np.count_nonzero(within)
        served = int(np.count_nonzero(done))
        servable = self.servable_mask()
        n_servable = int(np.count_nonzero(servable))
        met_servable = np.count_nonzero(within & servable)
        before = [a for t, a, _ in self.replica_log if t <= t0]
        peak = max([before[-1]] + [a for t, a, _ in self.replica_log if t > t0])
        return SimResult(
            requests=n,
            served=served,
            dropped=n - served,
            gpu_hours=gpu_s * self.profile.gpus_per_replica / 3600,
            slo_ttft_ms=config.slo_ttft_ms,
            slo_attainment=float(met) / n if n else 1.0,
            servable=n_servable,
            slo_attainment_servable=float(met_servable) / n_servable if n_servable else 1.0,
            ttft_p50_ms=percentile_ms(served_ttft, 50),
            ttft_p95_ms=percentile_ms(served_ttft, 95),
            ttft_p99_ms=percentile_ms(served_ttft, 99),
            cold_starts=self.cold_starts,
            cold_start_waiters=self.cold_start_waiters,
            peak_queue=self.peak_queue,
            peak_replicas=peak,
            duration_s=max(0.0, end_s - t0),
            series=self.series(end_s),
            syncs=self.autoscaler.syncs or [],
        )

    def servable_mask(self) -> np.ndarray:
        """Measured requests an idle replica would answer within the SLO."""
        longest = self.profile.longest_prefill_within(self.config.slo_ttft_ms / 1000)
        hit = self.config.prefix_cache_hit
        return np.array(
            [
                r.prompt_tokens - min(int(r.prompt_tokens * hit), r.prompt_tokens - 1) <= longest
                and r.prompt_tokens + r.output_tokens <= self.max_tokens
                for r in self.trace.requests[self.n_warm :]
            ],
            dtype=bool,
        )

    def series(self, end_s: float) -> TimeSeries:
        bin_s, t0, first = self.config.series_bin_s, self.t0, self.n_warm
        bins = max(1, int(np.ceil((end_s - t0) / bin_s)))
        edges = t0 + np.arange(bins + 1) * bin_s
        arrivals = np.array([r.arrival_s for r in self.trace.requests[first:]])
        counts = np.histogram(arrivals, bins=edges)[0] if arrivals.size else np.zeros(bins)
        log_t = np.array([t for t, _, _ in self.replica_log])
        at_end = np.searchsorted(log_t, edges[1:], side="right") - 1
        replicas = [self.replica_log[k][1] for k in at_end]
        ready = [self.replica_log[k][2] for k in at_end]
        queue_t = np.array([t for t, _ in self.queue_log])
        q_idx = np.searchsorted(queue_t, edges[1:], side="right") - 1
        queued = [self.queue_log[k][1] if k >= 0 else 0 for k in q_idx]
        which = (
            np.minimum(((arrivals - t0) // bin_s).astype(int), bins - 1)
            if arrivals.size
            else arrivals
        )
        p95: list[float | None] = []
        order = np.argsort(which, kind="stable")
        bounds = np.searchsorted(which[order], np.arange(bins + 1))
        for b in range(bins):
            values = self.ttft[first:][order[bounds[b] : bounds[b + 1]]]
            values = values[~np.isnan(values)]
            p95.append(float(np.percentile(values, 95) * 1000) if values.size else None)
        return TimeSeries(
            bin_s=bin_s,
            t_s=(edges[:-1] - t0).tolist(),
            arrivals_per_s=(counts / bin_s).tolist(),
            replicas=replicas,
            ready=ready,
            queued=queued,
            ttft_p95_ms=p95,
        )
