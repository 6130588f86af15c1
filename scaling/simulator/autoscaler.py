"""KEDA + Kubernetes HPA as documented, driven by a `ScalingSpec`.

KEDA exposes each trigger of a ScaledObject to the HPA as an External metric and itself handles
0 <-> 1 (https://keda.sh/docs/latest/concepts/scaling-deployments/): every `pollingInterval` it
checks whether any trigger is active, scales from zero when one is, and scales to zero once none
has been active for `cooldownPeriod`. Between 1 and max the HPA owns the replica count
(https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/):

- every sync period (15 s) each metric proposes a count; for an External metric with an
  AverageValue target that is ceil(metric total / target), unless the usage ratio
  total / (target x currentReplicas) is within the tolerance (0.1) of 1, which keeps the count;
  the largest proposal wins;
- the scale-up stabilization window takes the minimum of the proposals in the window, the
  scale-down window the maximum;
- step policies limit the change per period relative to the replica count at the start of the
  period; scale-up takes the larger limit of the Pods and Percent policies (selectPolicy Max);
- the result is clamped to [max(minReplicaCount, 1), maxReplicaCount].

Unready pods: the HPA only adjusts for unready pods on Resource and Pods metrics. KEDA metrics are
External, so currentReplicas is the scale subresource's count, starting pods included, and the
queue total comes from ready pods only (a starting vLLM server exports no metrics).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from scaling.spec import ScalingSpec

HPA_SYNC_S = 15.0
HPA_TOLERANCE = 0.1


def hpa_replicas_for_metric(
    current: int, metric_total: float, target: float, tolerance: float = HPA_TOLERANCE
) -> int:
    """Replica count one External AverageValue metric asks for."""
    if current > 0 and abs(metric_total / (target * current) - 1.0) <= tolerance:
        return current
    # Rounded first so 1.1 / 0.1 = 11.000000000000002 asks for 11, as milli-quantities do.
    return math.ceil(round(metric_total / target, 9))


def scale_up_limit(spec: ScalingSpec, period_start: int) -> int:
    by_pods = period_start + spec.scale_up_pods_per_period
    by_percent = math.ceil(period_start * (1 + spec.scale_up_percent_per_period / 100))
    return max(by_pods, by_percent)


def scale_down_limit(spec: ScalingSpec, period_start: int) -> int:
    return int(period_start * (1 - spec.scale_down_percent_per_period / 100))


@dataclass(frozen=True)
class Observation:
    """What the triggers see at one instant."""

    # Sum of vllm:num_requests_waiting over the ready pods, as last scraped.
    waiting_total: float
    # TTFT p95 in seconds over the last minute, None without samples.
    ttft_p95_s: float | None = None
    # Highest active schedule floor (KEDA cron trigger desiredReplicas), 0 when none.
    floor: int = 0
    # Requests held or in flight through the HTTP add-on interceptor.
    interceptor_in_flight: int = 0
    # Sum of vllm:num_requests_running + vllm:num_requests_waiting over the ready pods, as last
    # scraped.
    in_flight_total: float = 0.0
    # Sum of vllm:kv_cache_usage_perc (0-1 each) over the ready pods, as last scraped.
    kv_usage_total: float = 0.0
    # sum(rate(vllm:prompt_tokens_total[1m])) over the pods, as of the last scrape.
    prompt_tokens_per_s: float = 0.0


@dataclass(frozen=True)
class Sync:
    """One HPA sync as recorded for diagnosis: what each trigger asked for, and what was set."""

    t_s: float
    current: int
    desired: int
    proposals: dict[str, int]


class Autoscaler:
    def __init__(
        self, spec: ScalingSpec, tolerance: float = HPA_TOLERANCE, *, record: bool = False
    ) -> None:
        self.spec = spec
        self.tolerance = tolerance
        # Every sync's per-trigger proposals, when asked for: which trigger holds the capacity
        # is not visible in the replica count alone.
        self.syncs: list[Sync] | None = [] if record else None
        self._recommendations: deque[tuple[float, int]] = deque()
        self._events: deque[tuple[float, int]] = deque()
        # The simulation starts from a serving endpoint, so the cooldown clock starts at 0.
        self.last_active_s = 0.0

    # --- KEDA -------------------------------------------------------------------------------

    def active(self, obs: Observation) -> bool:
        spec = self.spec
        return (
            obs.waiting_total > spec.activation_queue
            or (spec.ttft_p95_target_ms is not None and obs.ttft_p95_s is not None)
            # KEDA's default activation threshold is 0: active with any request in flight.
            or (spec.target_in_flight_per_replica is not None and obs.in_flight_total > 0)
            or (spec.target_kv_cache_usage_per_replica is not None and obs.kv_usage_total > 0)
            or (
                spec.target_prompt_tokens_per_s_per_replica is not None
                and obs.prompt_tokens_per_s > 0
            )
            or obs.floor > 0
            or (spec.scales_to_zero and obs.interceptor_in_flight > 0)
        )

    def mark_active(self, now: float) -> None:
        """A pushed activity report (external-push trigger) between polls."""
        self.last_active_s = max(self.last_active_s, now)

    def keda_poll(self, now: float, current: int, obs: Observation) -> int | None:
        """KEDA's own decision at a poll: the new replica count for 0 <-> 1, else None."""
        if self.active(obs):
            self.last_active_s = now
            if current == 0:
                return max(self.spec.min_replicas, 1)
            return None
        if (
            current > 0
            and self.spec.scales_to_zero
            and now - self.last_active_s >= self.spec.cooldown_s
        ):
            self._recommendations.clear()
            self._events.clear()
            return 0
        return None

    # --- HPA --------------------------------------------------------------------------------

    def proposals(self, current: int, obs: Observation) -> list[int]:
        return list(self.named_proposals(current, obs).values())

    def named_proposals(self, current: int, obs: Observation) -> dict[str, int]:
        """The replica count each configured trigger asks for, by trigger."""
        spec = self.spec
        out = {
            "queue": hpa_replicas_for_metric(
                current, obs.waiting_total, spec.target_queue_per_replica, self.tolerance
            )
        }
        if spec.ttft_p95_target_ms is not None and obs.ttft_p95_s is not None:
            target_s = spec.ttft_p95_target_ms / 1000
            out["ttft"] = hpa_replicas_for_metric(current, obs.ttft_p95_s, target_s, self.tolerance)
        if spec.target_in_flight_per_replica is not None:
            out["in_flight"] = hpa_replicas_for_metric(
                current, obs.in_flight_total, spec.target_in_flight_per_replica, self.tolerance
            )
        if spec.target_kv_cache_usage_per_replica is not None:
            out["kv_cache"] = hpa_replicas_for_metric(
                current, obs.kv_usage_total, spec.target_kv_cache_usage_per_replica, self.tolerance
            )
        if spec.target_prompt_tokens_per_s_per_replica is not None:
            out["prompt_tokens"] = hpa_replicas_for_metric(
                current,
                obs.prompt_tokens_per_s,
                spec.target_prompt_tokens_per_s_per_replica,
                self.tolerance,
            )
        if obs.floor > 0:
            out["floor"] = hpa_replicas_for_metric(current, obs.floor, 1.0, self.tolerance)
        return out

    def hpa_sync(self, now: float, current: int, obs: Observation) -> int:
        """One HPA sync: the replica count to set (the HPA does nothing at zero)."""
        if current == 0:
            return 0
        named = self.named_proposals(current, obs)
        desired = max(named.values())
        desired = self._stabilize(now, current, desired)
        desired = self._limit_rate(now, current, desired)
        if self.syncs is not None:
            self.syncs.append(Sync(now, current, desired, named))
        if desired != current:
            self._events.append((now, desired - current))
        return desired

    def _stabilize(self, now: float, current: int, desired: int) -> int:
        spec = self.spec
        recs = self._recommendations
        keep = max(spec.scale_up_stabilization_s, spec.scale_down_stabilization_s)
        while recs and recs[0][0] <= now - keep:
            recs.popleft()
        up = min(
            [r for t, r in recs if t > now - spec.scale_up_stabilization_s] + [desired],
        )
        down = max(
            [r for t, r in recs if t > now - spec.scale_down_stabilization_s] + [desired],
        )
        recs.append((now, desired))
        # Scale up only to what every recent proposal agreed on, down only to the highest.
        return min(max(current, up), down)

    def _limit_rate(self, now: float, current: int, desired: int) -> int:
        spec = self.spec
        events = self._events
        while events and events[0][0] <= now - spec.policy_period_s:
            events.popleft()
        period_start = current - sum(d for _, d in events)
        low, high = max(spec.min_replicas, 1), spec.max_replicas
        if desired > current:
            high = min(high, max(scale_up_limit(spec, period_start), current))
        elif desired < current:
            low = max(low, min(scale_down_limit(spec, period_start), current))
        return max(low, min(high, desired))
