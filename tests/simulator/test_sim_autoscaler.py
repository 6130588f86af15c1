"""HPA and KEDA arithmetic, on the examples of the Kubernetes and KEDA documentation."""

from __future__ import annotations

from scaling.simulator.autoscaler import (
    Autoscaler,
    Observation,
    hpa_replicas_for_metric,
    scale_down_limit,
    scale_up_limit,
)
from scaling.spec import ScalingSpec


def test_hpa_doubles_replicas_when_metric_is_twice_the_target():
    # Kubernetes docs: current 200m against a 100m target doubles the replicas. With an
    # AverageValue target the metric is the total across pods: 3 pods x 200m = 600m.
    assert hpa_replicas_for_metric(3, 0.6, 0.1) == 6


def test_hpa_halves_replicas_when_metric_is_half_the_target():
    assert hpa_replicas_for_metric(4, 4 * 0.05, 0.1) == 2


def test_hpa_holds_within_tolerance():
    # |ratio - 1| <= 0.1 keeps the count: 10 pods, target 5, total 54 (ratio 1.08).
    assert hpa_replicas_for_metric(10, 54, 5) == 10
    assert hpa_replicas_for_metric(10, 46, 5) == 10


def test_hpa_acts_just_outside_tolerance():
    assert hpa_replicas_for_metric(10, 56, 5) == 12  # ratio 1.12
    assert hpa_replicas_for_metric(10, 44, 5) == 9  # ratio 0.88


def test_hpa_rounds_exact_multiples_without_float_noise():
    assert hpa_replicas_for_metric(1, 1.1, 0.1) == 11


def test_scale_up_policy_takes_the_larger_of_pods_and_percent():
    spec = ScalingSpec(scale_up_pods_per_period=4, scale_up_percent_per_period=100)
    assert scale_up_limit(spec, 1) == 5  # 1 + 4 pods beats 1 x 200 %
    assert scale_up_limit(spec, 10) == 20  # 200 % beats 10 + 4


def test_scale_down_percent_policy_truncates():
    spec = ScalingSpec(scale_down_percent_per_period=50)
    assert scale_down_limit(spec, 5) == 2


def _obs(waiting: float, **kwargs) -> Observation:
    return Observation(waiting_total=waiting, **kwargs)


def test_scale_down_waits_for_the_stabilization_window():
    spec = ScalingSpec(min_replicas=1, max_replicas=10, scale_down_stabilization_s=300)
    hpa = Autoscaler(spec)
    assert hpa.hpa_sync(0, 4, _obs(20)) == 4  # 20 / 5 = 4 replicas, within tolerance
    # The queue empties: the highest proposal of the last 300 s (4) still holds.
    for t in range(15, 300, 15):
        assert hpa.hpa_sync(t, 4, _obs(0)) == 4
    assert hpa.hpa_sync(300, 4, _obs(0)) == 1


def test_scale_up_stabilization_takes_the_minimum_of_the_window():
    spec = ScalingSpec(min_replicas=1, max_replicas=10, scale_up_stabilization_s=60)
    hpa = Autoscaler(spec)
    assert hpa.hpa_sync(0, 1, _obs(0)) == 1
    assert hpa.hpa_sync(15, 1, _obs(40)) == 1  # the 0 s proposal (1) is still in the window
    assert hpa.hpa_sync(75, 1, _obs(40)) == 5  # 1 + 4 pods per period


def test_scale_up_is_limited_per_period_from_the_period_start():
    spec = ScalingSpec(
        min_replicas=1,
        max_replicas=50,
        scale_up_pods_per_period=2,
        scale_up_percent_per_period=0,
        policy_period_s=60,
    )
    hpa = Autoscaler(spec)
    assert hpa.hpa_sync(0, 1, _obs(100)) == 3
    assert hpa.hpa_sync(15, 3, _obs(100)) == 3  # 2 already added in this 60 s period
    assert hpa.hpa_sync(60, 3, _obs(100)) == 5


def test_hpa_clamps_to_min_and_max():
    spec = ScalingSpec(min_replicas=2, max_replicas=3, scale_down_stabilization_s=0)
    hpa = Autoscaler(spec)
    assert hpa.hpa_sync(0, 2, _obs(1000)) == 3
    assert hpa.hpa_sync(15, 3, _obs(0)) == 2


def test_target_queue_per_replica_changes_the_decision():
    obs = _obs(30)
    low = Autoscaler(ScalingSpec(max_replicas=20, target_queue_per_replica=2))
    high = Autoscaler(ScalingSpec(max_replicas=20, target_queue_per_replica=10))
    assert low.hpa_sync(0, 1, obs) == 5  # wants 15, step policy allows 1 + 4
    assert high.hpa_sync(0, 1, obs) == 3


def test_ttft_trigger_adds_a_proposal():
    spec = ScalingSpec(max_replicas=10, ttft_p95_target_ms=500)
    hpa = Autoscaler(spec)
    assert hpa.hpa_sync(0, 2, _obs(0, ttft_p95_s=2.0)) == 4


def test_in_flight_trigger_proposes_replicas_before_anything_waits():
    hpa = Autoscaler(ScalingSpec(max_replicas=10, target_in_flight_per_replica=64))
    # 300 running requests over 2 replicas, none waiting: ceil(300 / 64) = 5.
    assert hpa.hpa_sync(0, 2, _obs(0, in_flight_total=300)) == 5
    without = ScalingSpec(max_replicas=10)
    assert Autoscaler(without).hpa_sync(0, 2, _obs(0, in_flight_total=300)) == Autoscaler(
        without
    ).hpa_sync(0, 2, _obs(0))


def test_in_flight_trigger_keeps_keda_active_while_requests_run():
    keda = Autoscaler(
        ScalingSpec(
            min_replicas=0, cooldown_s=60, polling_interval_s=30, target_in_flight_per_replica=8
        )
    )
    assert keda.keda_poll(0, 1, _obs(0, in_flight_total=3)) is None
    assert keda.keda_poll(90, 1, _obs(0, in_flight_total=3)) is None
    assert keda.keda_poll(180, 1, _obs(0)) == 0


def test_schedule_floor_raises_the_hpa_proposal():
    hpa = Autoscaler(ScalingSpec(max_replicas=10))
    assert hpa.hpa_sync(0, 1, _obs(0, floor=3)) == 3


def test_keda_activates_from_zero_when_queue_exceeds_activation():
    keda = Autoscaler(ScalingSpec(min_replicas=0, activation_queue=2))
    assert keda.keda_poll(0, 0, _obs(2)) is None
    assert keda.keda_poll(30, 0, _obs(3)) == 1


def test_keda_activates_from_zero_on_interceptor_pending_requests():
    keda = Autoscaler(ScalingSpec(min_replicas=0))
    assert keda.keda_poll(0, 0, _obs(0, interceptor_in_flight=1)) == 1


def test_keda_scales_to_zero_only_after_cooldown():
    keda = Autoscaler(ScalingSpec(min_replicas=0, cooldown_s=300, polling_interval_s=30))
    assert keda.keda_poll(30, 1, _obs(1)) is None  # active at 30 s
    assert keda.keda_poll(300, 1, _obs(0)) is None  # 270 s inactive
    assert keda.keda_poll(330, 1, _obs(0)) == 0  # 300 s since the last active poll


def test_keda_cooldown_restarts_on_pushed_activity():
    keda = Autoscaler(ScalingSpec(min_replicas=0, cooldown_s=300))
    keda.mark_active(200)
    assert keda.keda_poll(330, 1, _obs(0)) is None
    assert keda.keda_poll(500, 1, _obs(0)) == 0


def test_keda_never_scales_to_zero_with_a_minimum():
    keda = Autoscaler(ScalingSpec(min_replicas=1, cooldown_s=0))
    assert keda.keda_poll(1000, 1, _obs(0)) is None


def test_a_recorded_sync_names_what_each_trigger_asked_and_what_was_set():
    """Which trigger holds the capacity is not visible in the replica count: a recording
    autoscaler keeps every trigger's proposal beside the count the step policy allowed."""
    spec = ScalingSpec(
        min_replicas=1,
        max_replicas=10,
        target_queue_per_replica=5,
        target_in_flight_per_replica=50,
        target_kv_cache_usage_per_replica=0.5,
        scale_up_pods_per_period=1,
        scale_up_percent_per_period=0,
        policy_period_s=300,
    )
    hpa = Autoscaler(spec, record=True)
    obs = _obs(10, in_flight_total=400, kv_usage_total=1.5)
    assert hpa.hpa_sync(0, 2, obs) == 3  # in-flight asks for 8, the step policy allows +1
    (sync,) = hpa.syncs
    assert sync.proposals == {"queue": 2, "in_flight": 8, "kv_cache": 3}
    assert (sync.current, sync.desired) == (2, 3)
    assert Autoscaler(spec).syncs is None  # nothing kept unless asked
