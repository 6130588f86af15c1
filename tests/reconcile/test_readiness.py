"""Readiness from the objects a real API server returns: conditions, and the newest pod's
reason when the Deployment cannot progress."""

from __future__ import annotations

from endpoints.readiness import newest_pod_problem, readiness


def _deployment(*, generation=1, replicas=None, status=None) -> dict:
    spec = {} if replicas is None else {"replicas": replicas}
    return {"metadata": {"generation": generation}, "spec": spec, "status": status or {}}


def _pod(created: str, *, waiting=None, unschedulable=None) -> dict:
    status: dict = {"phase": "Pending", "conditions": [], "containerStatuses": []}
    if waiting:
        status["containerStatuses"] = [
            {"name": "vllm", "state": {"waiting": {"reason": waiting[0], "message": waiting[1]}}}
        ]
    if unschedulable:
        status["conditions"] = [
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": unschedulable,
            }
        ]
    return {"metadata": {"creationTimestamp": created}, "status": status}


PAST_DEADLINE = {
    "observedGeneration": 1,
    "replicas": 1,
    "unavailableReplicas": 1,
    "conditions": [
        {
            "type": "Progressing",
            "status": "False",
            "reason": "ProgressDeadlineExceeded",
            "message": 'ReplicaSet "chat-r1-abc" has timed out progressing.',
        }
    ],
}


def test_scaled_to_zero_only_once_the_deployment_asks_for_none_and_was_observed():
    assert readiness(_deployment(), min_replicas=0).reason == "Starting"
    assert readiness(_deployment(replicas=1), min_replicas=0).reason == "Starting"
    not_observed = _deployment(generation=2, replicas=0, status={"observedGeneration": 1})
    assert readiness(not_observed, min_replicas=0).reason == "Starting"
    at_zero = readiness(
        _deployment(generation=2, replicas=0, status={"observedGeneration": 2}), min_replicas=0
    )
    assert (at_zero.ready, at_zero.reason) == (True, "ScaledToZero")


def test_a_rollout_past_its_deadline_is_degraded_with_the_pods_reason_and_settles():
    pods = [_pod("2026-12-04T00:00:00Z", waiting=("ErrImagePull", "not found"))]
    result = readiness(_deployment(replicas=1, status=PAST_DEADLINE), pods, min_replicas=1)
    assert result.ready is False
    assert result.degraded[0] == "ErrImagePull"
    # Nothing changes past the deadline until someone acts: checked at the slow cadence.
    assert result.settled is True

    unschedulable = [_pod("2026-12-04T00:00:00Z", unschedulable="0/3 nodes are available")]
    result = readiness(_deployment(replicas=1, status=PAST_DEADLINE), unschedulable, min_replicas=1)
    assert result.degraded[0] == "ProgressDeadlineExceeded"
    assert "timed out progressing" in result.degraded[1]
    assert "0/3 nodes are available" in result.degraded[1]
    assert result.settled is True


def test_an_image_pull_failure_is_degraded_before_the_deadline():
    pods = [_pod("2026-12-04T00:00:00Z", waiting=("ImagePullBackOff", "Back-off pulling image"))]
    status = {"observedGeneration": 1, "replicas": 1, "unavailableReplicas": 1}
    result = readiness(_deployment(replicas=1, status=status), pods, min_replicas=1)
    assert (result.ready, result.degraded[0]) == (False, "ImagePullBackOff")
    assert "Back-off pulling image" in result.degraded[1]


def test_an_unschedulable_pod_is_waiting_with_the_schedulers_words_not_degraded():
    pods = [_pod("2026-12-04T00:00:00Z", unschedulable="0/3 nodes have nvidia.com/gpu")]
    status = {"observedGeneration": 1, "replicas": 1, "unavailableReplicas": 1}
    result = readiness(_deployment(replicas=1, status=status), pods, min_replicas=1)
    assert (result.reason, result.degraded) == ("Starting", None)
    assert "0/3 nodes have nvidia.com/gpu" in result.message


def test_any_replica_failure_is_degraded_quota_named_as_such():
    failure = {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate"}
    quota = {**failure, "message": 'pods "x" is forbidden: exceeded quota: tenant-quota, ...'}
    other = {**failure, "message": 'pods "x" is forbidden: error looking up service account'}
    for condition, reason in ((quota, "QuotaExceeded"), (other, "ReplicaFailure")):
        status = {"observedGeneration": 1, "conditions": [condition]}
        assert readiness(_deployment(status=status), min_replicas=1).degraded[0] == reason


def test_the_newest_pod_speaks():
    pods = [
        _pod("2026-12-04T00:00:00Z", waiting=("CrashLoopBackOff", "old")),
        _pod("2026-12-04T00:05:00Z", waiting=("ErrImagePull", "new")),
    ]
    assert newest_pod_problem(pods) == ("ErrImagePull", "container vllm: new")


def test_a_suspended_tenants_endpoint_is_held():
    result = readiness(_deployment(replicas=1), min_replicas=1, suspended=True)
    assert (result.reason, result.held, result.settled) == ("TenantSuspended", True, True)
