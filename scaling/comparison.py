"""What a scaling policy would have cost on a workload, beside the presets and the oracle.

One computation behind `manage.py simulate_scaling` and the console's comparison page, so both
show the same figures for the same inputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from scaling.presets import PRESETS, preset
from scaling.promql import EndpointTarget
from scaling.simulator.engine import SimConfig, simulate
from scaling.simulator.hardware import ReplicaProfile
from scaling.simulator.oracle import OracleResult, oracle_lower_bound
from scaling.simulator.profiles import profile_for
from scaling.simulator.report import SimResult
from scaling.simulator.trace import Trace
from scaling.spec import ScalingSpec
from scaling.telemetry import NoRequestsObserved, request_history

if TYPE_CHECKING:
    from endpoints.models import Endpoint

# Fair start: each policy scales through the trace's first ten minutes, played once before it,
# from its own floor; those minutes are not measured. Ten minutes cover the presets' longest
# reaction (a 600 s scale-down window) and several cold starts.
FAIR_WARMUP_S = 600.0

# A comparison runs the simulator once per policy plus the oracle's search; past this many
# requests a page would wait minutes. The command line takes any size.
MAX_INTERACTIVE_REQUESTS = 150_000


@dataclass(frozen=True)
class PolicyOutcome:
    name: str
    result: SimResult
    oracle: OracleResult

    @property
    def gpu_hours_vs_oracle(self) -> float | None:
        if not self.oracle.gpu_hours:
            return None
        return self.result.gpu_hours / self.oracle.gpu_hours

    @property
    def gpu_hours_vs_cold_start_bound(self) -> float | None:
        if not self.oracle.cold_start_gpu_hours:
            return None
        return self.result.gpu_hours / self.oracle.cold_start_gpu_hours

    def summary(self) -> dict[str, object]:
        ratio = self.gpu_hours_vs_oracle
        paid = self.gpu_hours_vs_cold_start_bound
        return {
            **self.result.summary(),
            "oracle_gpu_hours": round(self.oracle.gpu_hours, 4),
            "gpu_hours_vs_oracle": round(ratio, 3) if ratio is not None else None,
            "cold_start_bound_gpu_hours": round(self.oracle.cold_start_gpu_hours, 4),
            "gpu_hours_vs_cold_start_bound": round(paid, 3) if paid is not None else None,
        }


@dataclass(frozen=True)
class Comparison:
    oracle: OracleResult
    outcomes: list[PolicyOutcome]

    def summary(self) -> dict[str, object]:
        return {
            "oracle_gpu_hours": round(self.oracle.gpu_hours, 4),
            "cold_start_bound_gpu_hours": round(self.oracle.cold_start_gpu_hours, 4),
            "policies": [{"policy": o.name, **o.summary()} for o in self.outcomes],
        }


def with_presets(name: str, spec: ScalingSpec) -> dict[str, ScalingSpec]:
    """`spec` under `name`, then every preset at the same maximum: the maximum is what the
    tenant's quota admitted, so a preset may not exceed it. A preset equal to `spec` is not
    simulated twice; `spec`'s name says which preset it is."""
    presets = {key: preset(key, max_replicas=spec.max_replicas) for key in PRESETS}
    same = [key for key, candidate in presets.items() if candidate == spec]
    label = f"{name} (= {same[0]})" if same and name not in PRESETS else name
    return {label: spec, **{key: s for key, s in presets.items() if key not in same}}


class TooManyRequests(ValueError):
    """The workload holds more requests than the caller can afford to simulate."""


def endpoint_workload(
    endpoint: Endpoint,
    *,
    start: datetime,
    end: datetime,
    step_s: int = 60,
    seed: int = 0,
    max_requests: int | None = None,
) -> Trace:
    """The endpoint's requests from `start` to `end` as a trace: Poisson arrivals following its
    request rate in Prometheus, with token sizes from its histograms. Raises the telemetry
    module's `TelemetryUnavailable` or `NoRequestsObserved`, and `TooManyRequests` before
    drawing a single arrival when the rates add up to more than `max_requests`."""
    target = EndpointTarget(namespace=endpoint.tenant.namespace, endpoint=endpoint.name)
    history = request_history(target, start=start, end=end, step_s=step_s)
    if max_requests is not None and history.expected_requests > max_requests:
        raise TooManyRequests(
            f"The window holds about {round(history.expected_requests)} requests; at most "
            f"{max_requests} are simulated here."
        )
    trace = history.to_trace(seed=seed)
    if not trace.requests:
        raise NoRequestsObserved(
            f"the request rate of {endpoint.name} in this window is too low to draw a request"
        )
    return trace


def replica_profile_of(endpoint: Endpoint) -> ReplicaProfile | None:
    """The simulator's profile for what the endpoint's stable revision runs, or None when no
    measured profile covers that accelerator (the default, an 8B model on an H100, then
    stands, and the comparison says which profile it used)."""
    revision = endpoint.stable_revision
    version = revision.model_version
    try:
        return profile_for(
            f"{version.name} {version.hf_repo}",
            gpus_per_replica=version.gpus_per_replica,
            mig_profile=version.mig_profile,
            engine_args=revision.effective_engine_args,
        )
    except KeyError:
        return None


def compare_endpoint_traffic(
    endpoint: Endpoint,
    *,
    start: datetime,
    end: datetime,
    step_s: int = 60,
    config: SimConfig | None = None,
    max_requests: int | None = MAX_INTERACTIVE_REQUESTS,
) -> tuple[Trace, Comparison]:
    """The endpoint's policy and every preset, replayed on its own traffic from Prometheus, on
    the replica profile of the model version its stable revision runs (an 8B or 70B model, a
    whole GPU, tensor parallelism or a MIG slice)."""
    config = config or SimConfig()
    profile = replica_profile_of(endpoint)
    if profile is not None:
        config = replace(config, profile=profile)
    trace = endpoint_workload(
        endpoint, start=start, end=end, step_s=step_s, seed=config.seed, max_requests=max_requests
    )
    policies = with_presets("current", endpoint.scaling_policy.to_spec())
    return trace, compare(trace, policies, config)


def compare(
    trace: Trace,
    policies: Mapping[str, ScalingSpec],
    config: SimConfig | None = None,
    *,
    oracle: OracleResult | None = None,
) -> Comparison:
    """Simulate each policy on `trace` and compute the oracle lower bounds once (or take
    `oracle`, already computed for the same trace and config).

    Fair start: unless the caller fixed a warm-up or an initial fleet, every policy starts from
    its own floor `FAIR_WARMUP_S` before the trace, facing the trace's opening minutes once
    already, and only the trace itself is measured. No policy inherits the oracle's fleet.
    """
    config = config or SimConfig()
    if oracle is None:
        oracle = oracle_lower_bound(trace, config)
    if config.warmup_s == 0 and config.initial_replicas is None:
        config = replace(config, warmup_s=FAIR_WARMUP_S)
    outcomes = [
        PolicyOutcome(name, simulate(trace, spec, config), oracle)
        for name, spec in policies.items()
    ]
    return Comparison(oracle, outcomes)
