"""A reference for reactive policies: a perfect signal, one interval late.

The cold-start bound knows the future. A policy driven by metrics knows only the past: at best,
exactly how many replicas the interval that just ended needed. This reference gets that and no
more: the oracle's fleet of the previous interval plus `headroom` replicas, handed to the HPA as
schedule floors (so it acts within one sync), then the cold start, and capacity held for
`hold_s` (the scale-down stabilization window) against the next burst.

Headroom is needed even on time: the oracle plans each interval from empty replicas, so its
exact fleet falls behind on requests that run across interval edges (on the chat shape it
serves 84 % when replayed on time with no cold start, and 100 % with one replica more).

It is not a bound: a policy could predict (schedule floors learned from history do), and real
triggers are scraped every 15 s, not once a minute (on bursts from idle the queue trigger beats
it). What it measures is how much reacting costs on a shape, apart from how well a policy's
triggers read the load: where even this perfect signal needs more than 1.3x the oracle for 99 %
of requests, a trigger that reads the load as late cannot get a policy there.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

from scaling.simulator.engine import SimConfig, simulate
from scaling.simulator.oracle import OracleResult
from scaling.simulator.report import SimResult
from scaling.simulator.trace import Trace
from scaling.spec import WEEKDAYS, ScalingSpec, ScheduleFloor

# Schedule floors name a weekday, so a floor would also fire a week later.
MAX_SPAN = timedelta(days=7)
# The queue trigger every policy carries, made unable to ask for more than one replica: the
# floors alone decide.
_SILENT_QUEUE_TARGET = 1e12


def lagged_levels(oracle: OracleResult, lag_intervals: int = 1) -> list[int]:
    """Per interval, what a perfect signal reports at its start: the need `lag_intervals`
    earlier (the first interval's own until then, which the fleet starts with)."""
    need = oracle.replicas
    if lag_intervals == 0 or not need:
        return list(need)
    return need[:1] * lag_intervals + need[:-lag_intervals]


def floors_for_levels(
    levels: list[int], start: datetime, interval_s: float
) -> tuple[ScheduleFloor, ...]:
    """Equal consecutive levels as one floor each, in UTC, cut at midnight (a floor names one
    weekday)."""
    floors: list[ScheduleFloor] = []
    start = start.astimezone(UTC)
    i = 0
    while i < len(levels):
        j = i
        while j + 1 < len(levels) and levels[j + 1] == levels[i]:
            j += 1
        begin = start + timedelta(seconds=i * interval_s)
        end = start + timedelta(seconds=(j + 1) * interval_s)
        while begin < end:
            midnight = datetime.combine(begin.date() + timedelta(days=1), time(), begin.tzinfo)
            stop = min(end, midnight)
            floors.append(
                ScheduleFloor(
                    days=(WEEKDAYS[begin.weekday()],),
                    start=begin.time(),
                    end=stop.time() if stop < midnight else time.max,
                    timezone="UTC",
                    min_replicas=max(1, levels[i]),
                )
            )
            begin = stop
        i = j + 1
    return tuple(floors)


def reactive_reference_spec(
    trace: Trace,
    oracle: OracleResult,
    *,
    hold_s: int,
    max_replicas: int,
    headroom: int = 0,
    lag_intervals: int = 1,
) -> ScalingSpec:
    if trace.requests and trace.requests[-1].arrival_s > MAX_SPAN.total_seconds():
        raise ValueError("the reactive reference takes at most a week of trace")
    levels = [min(max_replicas, k + headroom) for k in lagged_levels(oracle, lag_intervals)]
    return ScalingSpec(
        min_replicas=1,
        max_replicas=max_replicas,
        target_queue_per_replica=_SILENT_QUEUE_TARGET,
        polling_interval_s=15,
        scale_up_pods_per_period=max_replicas,
        scale_down_stabilization_s=hold_s,
        scale_down_percent_per_period=100,
        policy_period_s=15,
        schedule_floors=floors_for_levels(levels, trace.start, oracle.interval_s),
    )


def reactive_reference(trace: Trace, spec: ScalingSpec, config: SimConfig) -> SimResult:
    """`spec` (from `reactive_reference_spec`) replayed on `trace`, starting with its first
    floor's fleet ready, as the cold-start bound does, with no warm-up: its signal needs none.

    Headroom rides on top of the signal because the oracle plans each interval from empty
    replicas, so its exact fleet falls behind on requests that run across interval edges.
    `lag_intervals=0` (with no cold start in `config`) replays the oracle's own fleet."""
    first = spec.schedule_floors[0].min_replicas if spec.schedule_floors else 1
    return simulate(trace, spec, replace(config, warmup_s=0.0, initial_replicas=first))
