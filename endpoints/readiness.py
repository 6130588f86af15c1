"""How ready an endpoint is, from what the cluster reports: its Deployment's status and
conditions, and, when it is not ready, its newest pod's reason.

A pure function of Kubernetes objects as the API server returns them, so each case is tested
with the dicts a real cluster sends. Condition reasons are the deployment controller's
(pkg/controller/deployment/util/deployment_util.go: ProgressDeadlineExceeded, FailedCreate) and
the kubelet's container waiting reasons.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Waiting reasons that will not pass by themselves: shown as Degraded at once.
_BROKEN_CONTAINER = {
    "ImagePullBackOff",
    "ErrImagePull",
    "InvalidImageName",
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "CreateContainerError",
}


@dataclass(frozen=True)
class Readiness:
    ready: bool
    reason: str
    message: str
    ready_replicas: int
    # (reason, message) when something needs a person: quota, a bad image, a crash loop, a
    # rollout past its deadline.
    degraded: tuple[str, str] | None = None
    # Nothing will change until someone acts (suspended, or stuck past the deadline): checked
    # at the slow cadence, not every few seconds.
    held: bool = False

    @property
    def settled(self) -> bool:
        return self.held or (self.ready and self.degraded is None)


# With a backend that writes manifests for a GitOps tool, nothing reports back: the endpoint is
# as ready as it can be known to be, and is checked again only at the slow cadence.
MANIFESTS_WRITTEN = Readiness(
    True,
    "ManifestsWritten",
    "Manifests written; the GitOps tool that applies them reports readiness, not this backend.",
    0,
)


def readiness(
    deployment: dict | None,
    pods: Sequence[dict] = (),
    *,
    min_replicas: int,
    suspended: bool = False,
) -> Readiness:
    status = (deployment or {}).get("status") or {}
    ready_replicas = int(status.get("readyReplicas", 0))
    if suspended:
        return Readiness(
            False, "TenantSuspended", "The tenant is suspended.", ready_replicas, held=True
        )
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    pod_reason = newest_pod_problem(pods)
    degraded = _degraded(conditions, pod_reason)
    stuck = _is_false(conditions.get("Progressing"))
    if ready_replicas > 0:
        message = f"{ready_replicas} replica(s) ready."
        return Readiness(True, "Available", message, ready_replicas, degraded, held=stuck)
    if _at_zero(deployment, status, min_replicas):
        message = "No replica runs; the first request starts one (cold start)."
        return Readiness(True, "ScaledToZero", message, 0, degraded)
    if degraded is not None:
        return Readiness(False, degraded[0], degraded[1], 0, degraded, held=stuck)
    if pod_reason is not None:
        # Not placed yet (no node fits, or one is being added): waiting, with the scheduler's
        # words, until the deadline says otherwise.
        return Readiness(False, "Starting", f"Waiting for a node: {pod_reason[1]}", 0)
    return Readiness(False, "Starting", "Waiting for the first replica.", 0)


def newest_pod_problem(pods: Sequence[dict]) -> tuple[str, str] | None:
    """(reason, message) of the newest pod that is not running: a container's waiting reason,
    or the scheduler's refusal to place it."""
    newest = sorted(pods, key=lambda p: (p.get("metadata") or {}).get("creationTimestamp") or "")
    for pod in reversed(newest):
        status = pod.get("status") or {}
        for container in status.get("containerStatuses") or []:
            waiting = (container.get("state") or {}).get("waiting")
            if waiting and waiting.get("reason") in _BROKEN_CONTAINER:
                name = container.get("name", "")
                return waiting["reason"], f"container {name}: {waiting.get('message', '')}".strip()
        for condition in status.get("conditions") or []:
            if (
                condition.get("type") == "PodScheduled"
                and _is_false(condition)
                and condition.get("reason") == "Unschedulable"
            ):
                return "Unschedulable", condition.get("message", "")
    return None


def _degraded(conditions: dict, pod_reason: tuple[str, str] | None) -> tuple[str, str] | None:
    failure = conditions.get("ReplicaFailure")
    if failure is not None and failure.get("status") == "True":
        message = failure.get("message", "")
        reason = "QuotaExceeded" if "exceeded quota" in message else "ReplicaFailure"
        return reason, message
    if pod_reason is not None and pod_reason[0] in _BROKEN_CONTAINER:
        return pod_reason
    progressing = conditions.get("Progressing")
    if _is_false(progressing):
        message = progressing.get("message", "")
        if pod_reason is not None:
            message = f"{message} {pod_reason[0]}: {pod_reason[1]}"
        return progressing.get("reason") or "ProgressDeadlineExceeded", message.strip()
    return None


def _at_zero(deployment: dict | None, status: dict, min_replicas: int) -> bool:
    """At zero only once the Deployment asks for none (`spec.replicas`), and its controller has
    seen that generation and runs none: a read-back before the controller filled in `status`
    says nothing about the pod being created."""
    if deployment is None or min_replicas > 0:
        return False
    spec = deployment.get("spec") or {}
    generation = (deployment.get("metadata") or {}).get("generation")
    observed = status.get("observedGeneration") == generation
    return spec.get("replicas") == 0 and observed and not status.get("replicas")


def _is_false(condition: dict | None) -> bool:
    return condition is not None and condition.get("status") == "False"
