"""A lower bound on GPU-hours: the fewest replicas per interval, chosen with perfect foresight.

Method: cut the trace into intervals (60 s). For each interval, replay only its requests on k
replicas that are ready and empty at the interval's start, with the same replica model, routing
and drain limit as the simulation, and keep the smallest k whose share of requests within the
TTFT SLO reaches `slo_target` among the requests an idle replica could serve in time (or what
is reachable at all, see below). The bound is the sum of k x interval length x GPUs per replica,
the last interval counted only up to the last arrival.

Why it is a lower bound for any autoscaler meeting the SLO interval by interval: it knows the
load in advance (no reaction lag), pays no cold start (a real replica is billed while it loads),
starts every interval with no backlog from the previous one, bills nothing for requests still
running past the interval's end, and spends zero on intervals without arrivals. A real policy
also holds whole replicas across interval edges and keeps them through its cooldown. What it
does not bound is a policy that trades misses between intervals; with a 99 % target per interval
that freedom is about 1 % of requests. Where even one replica per request misses the target
(long prompts whose prefill only just fits the SLO miss it whenever they share a step), the
interval aims at the share that many replicas reach, less one request.

A second, tighter bound keeps the foresight but pays the cold start (`cold_start_bound_s`):
each replica the fleet adds is started one cold start (the mean of the configured range)
before the interval that needs it, and billed from then. A replica idle for less than a cold
start is kept rather than stopped, because restarting it would bill at least as long. Replicas
of the first interval are taken as started before the trace (like a policy's warm-up). The gap
between a policy and this bound is what a reactive policy could still gain; the gap between the
two bounds is the price of cold starts themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from scaling.simulator.engine import SimConfig, simulate
from scaling.simulator.trace import Request, Trace
from scaling.spec import ScalingSpec


@dataclass(frozen=True)
class OracleResult:
    gpu_hours: float
    interval_s: float
    replicas: list[int]  # per interval, from the trace start
    slo_target: float
    # The same fleet, each added replica started one cold start ahead and billed from then.
    cold_start_gpu_hours: float = 0.0


def _attainment(requests: list[Request], k: int, config: SimConfig) -> float:
    spec = ScalingSpec(min_replicas=k, max_replicas=k)
    # No schedule floors in a fixed-size replay, so the wall clock does not matter.
    result = simulate(
        Trace(requests, datetime(1970, 1, 1, tzinfo=UTC)),
        spec,
        replace(config, initial_replicas=k, warmup_s=0.0),
    )
    # Requests no replica count can answer in time (a prompt whose prefill alone exceeds the
    # SLO) do not make the oracle add replicas.
    return result.slo_attainment_servable


def _smallest(
    requests: list[Request],
    start: int,
    cap: int,
    goal: float,
    config: SimConfig,
    give_up: bool = True,
) -> tuple[int, bool]:
    """The smallest k in [1, cap] reaching `goal`, searched from `start` (loads change slowly
    between intervals); (cap, False) when none does. With `give_up`, climbing stops once a
    replica more does not help, so an unreachable goal costs a few replays, not cap of them."""
    k = start
    if _attainment(requests, k, config) >= goal:
        while k > 1 and _attainment(requests, k - 1, config) >= goal:
            k -= 1
        return k, True
    previous = -1.0
    while k < cap:
        k += 1
        reached = _attainment(requests, k, config)
        if reached >= goal:
            return k, True
        if give_up and reached <= previous:
            break  # a replica more did not help: the goal is out of reach
        previous = reached
    return cap, False


def oracle_lower_bound(
    trace: Trace,
    config: SimConfig | None = None,
    *,
    slo_target: float = 0.99,
    interval_s: float = 60.0,
    max_replicas: int = 64,
) -> OracleResult:
    config = config or SimConfig()
    buckets: dict[int, list[Request]] = {}
    for r in trace.requests:
        buckets.setdefault(int(r.arrival_s // interval_s), []).append(r)
    n_intervals = max(buckets, default=-1) + 1
    replicas: list[int] = []
    k = 1
    for index in range(n_intervals):
        bucket = buckets.get(index)
        if not bucket:
            replicas.append(0)
            continue
        offset = index * interval_s
        local = [Request(r.arrival_s - offset, r.prompt_tokens, r.output_tokens) for r in bucket]
        cap = min(max_replicas, len(local))
        # Start from the previous interval's answer: loads change slowly, so this takes a few
        # replays per interval instead of a search from 1.
        start = max(1, min(k, cap))
        k, met = _smallest(local, start, cap, slo_target, config)
        if not met:
            # Even a replica per request misses the target (prompts whose prefill only just
            # fits the SLO miss it whenever they share a step): aim for what that many replicas
            # reach, less one request, instead of buying replicas that do not help.
            goal = _attainment(local, cap, config) - 1 / len(local)
            k, _ = _smallest(local, start, cap, min(slo_target, goal), config, give_up=False)
        replicas.append(k)
    # The last interval is billed only up to the last arrival, which a simulation always covers.
    end = trace.duration_s
    replica_s = sum(k * min(interval_s, end - i * interval_s) for i, k in enumerate(replicas))
    gpus = config.profile.gpus_per_replica
    low, high = (
        config.profile.cold_start_cached_s
        if config.cold_start == "cached"
        else config.profile.cold_start_uncached_s
    )
    paid = cold_start_bound_s(replicas, interval_s, end, (low + high) / 2)
    return OracleResult(
        replica_s * gpus / 3600, interval_s, replicas, slo_target, paid * gpus / 3600
    )


def cold_start_bound_s(
    replicas: list[int], interval_s: float, end_s: float, cold_start_s: float
) -> float:
    """Replica-seconds of the per-interval fleet `replicas` when every replica added after the
    first interval starts `cold_start_s` before it is needed. The j-th replica serves the
    intervals where at least j are needed; its runs closer than a cold start are merged."""
    total = 0.0
    for j in range(1, max(replicas, default=0) + 1):
        runs: list[list[float]] = []  # [start, end] in seconds
        for i, k in enumerate(replicas):
            if k < j:
                continue
            start, stop = i * interval_s, min((i + 1) * interval_s, end_s)
            if runs and start - runs[-1][1] < cold_start_s:
                runs[-1][1] = stop  # cheaper to keep it through the gap than to restart it
            else:
                runs.append([start, stop])
        for start, stop in runs:
            # Provisioning before the trace starts is not measured, as for a policy's warm-up.
            total += stop - start + min(cold_start_s, start)
    return total
