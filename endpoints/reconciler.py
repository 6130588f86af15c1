"""Endpoint → vLLM Deployments, autoscaling and routing in the tenant's namespace."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from control_plane.audit.services import record
from control_plane.cluster import ClusterBackend, ObjectRef
from control_plane.cluster.sync import delete_all, sync_objects
from control_plane.conditions import set_condition
from control_plane.reconcile import next_check, queued_mark
from control_plane.reconcile_driver import Outcome, run, system_actor
from control_plane.render_context import RenderContext
from endpoints.manifests import ENDPOINT_KINDS, ENDPOINT_LABEL, endpoint_objects
from endpoints.models import Endpoint
from endpoints.readiness import MANIFESTS_WRITTEN
from endpoints.readiness import readiness as endpoint_readiness
from tenants.models import Tenant

# KEDA holds a paused ScaledObject's workload at this many replicas
# (https://keda.sh/docs/latest/concepts/scaling-deployments/#pause-autoscaling).
PAUSED_REPLICAS_ANNOTATION = "autoscaling.keda.sh/paused-replicas"


def _load(endpoint_id: int) -> Endpoint | None:
    return (
        Endpoint.objects.select_related(
            "tenant__quota",
            "scaling_policy",
            "stable_revision__model_version",
            "stable_revision__endpoint__tenant",
            "canary_revision__model_version",
            "canary_revision__endpoint__tenant",
            "retiring_revision__model_version",
            "retiring_revision__endpoint__tenant",
        )
        .filter(pk=endpoint_id)
        .first()
    )


def _scopes(endpoint: Endpoint) -> list[tuple[str, str, str | None]]:
    return [(api_version, kind, endpoint.tenant.namespace) for api_version, kind in ENDPOINT_KINDS]


def created_at_zero(endpoint: Endpoint, objects: list[dict]) -> dict[ObjectRef, dict]:
    """A Deployment the autoscaler may keep at zero is created at zero: left out, `replicas`
    defaults to 1 and a GPU pod (perhaps a GPU node) starts until KEDA first acts. Only the
    creation sets it; the autoscaler owns it afterwards."""
    spec = endpoint.scaling_policy.to_spec()
    if spec.min_replicas > 0 and endpoint.tenant.state != Tenant.State.SUSPENDED:
        return {}
    return {
        ObjectRef.of(obj): {"spec": {"replicas": 0}}
        for obj in objects
        if obj["kind"] == "Deployment"
    }


def desired_objects(endpoint: Endpoint, context: RenderContext) -> list[dict]:
    """What the endpoint should have in the cluster; a suspended tenant's endpoints are held at
    zero replicas by pausing their ScaledObjects, so resuming restores them unchanged."""
    objects = endpoint_objects(endpoint, spec=endpoint.scaling_policy.to_spec(), context=context)
    if endpoint.tenant.state == Tenant.State.SUSPENDED:
        for obj in objects:
            if obj["kind"] == "ScaledObject":
                obj["metadata"].setdefault("annotations", {})[PAUSED_REPLICAS_ANNOTATION] = "0"
    return objects


def pods_not_ready(backend: ClusterBackend, live: dict | None, namespace: str) -> list[dict]:
    """A Deployment's pods, listed only while some of them is not ready: the newest one's
    reason makes a condition say what is wrong (endpoints/readiness.py)."""
    if not ((live or {}).get("status") or {}).get("unavailableReplicas"):
        return []
    selector = ((live.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return backend.list("v1", "Pod", namespace, selector)


class EndpointKind:
    """An endpoint: its revisions' Deployments, autoscaling and routing
    (`control_plane.reconcile_driver`)."""

    model = Endpoint
    target_type = "endpoint"

    def load(self, pk: int) -> Endpoint | None:
        return _load(pk)

    def reconcile(self, endpoint: Endpoint, backend: ClusterBackend) -> Outcome:
        if endpoint.state == Endpoint.State.DELETING or endpoint.tenant.state == "deleting":
            return _delete(endpoint, backend)
        if endpoint.tenant.last_reconciled_at is None:
            _write_status(
                endpoint,
                # The task retries shortly: that retry is this endpoint's queued message.
                updates={
                    "next_check_at": next_check(settled=False),
                    "reconcile_queued_until": timezone.now() + queued_mark(),
                },
                conditions=[("Progressing", True, "WaitingForNamespace", "")],
            )
            return Outcome.WAITING
        return _apply(endpoint, backend, RenderContext.from_settings(settings))

    def audit_target(self, endpoint: Endpoint) -> tuple[str, str]:
        return endpoint.name, endpoint.tenant.slug


ENDPOINTS = EndpointKind()


def reconcile_endpoint(endpoint_id: int, *, backend: ClusterBackend) -> Outcome:
    """Apply, prune, read back, write status; or, while it is being deleted, tear it down (see
    `run` for failures)."""
    return run(ENDPOINTS, endpoint_id, backend=backend)


def _apply(endpoint: Endpoint, backend: ClusterBackend, context: RenderContext) -> Outcome:
    generation = endpoint.generation
    spec = endpoint.scaling_policy.to_spec()
    desired = desired_objects(endpoint, context)
    outcome = sync_objects(
        backend,
        desired,
        scopes=_scopes(endpoint),
        selector={ENDPOINT_LABEL: endpoint.name},
        create_only=created_at_zero(endpoint, desired),
    )
    stable = endpoint.stable_revision.kubernetes_name
    live = backend.get(ObjectRef("apps/v1", "Deployment", endpoint.tenant.namespace, stable))
    if outcome.wrote:
        # Pods come and go with this change: read the tenant's quota usage back soon.
        soon = next_check(settled=False)
        Tenant.objects.filter(pk=endpoint.tenant_id, next_check_at__gt=soon).update(
            next_check_at=soon
        )
    pods = pods_not_ready(backend, live, endpoint.tenant.namespace)
    if backend.observes_status:
        readiness = endpoint_readiness(
            live,
            pods,
            min_replicas=spec.min_replicas,
            suspended=endpoint.tenant.state == Tenant.State.SUSPENDED,
        )
    else:
        readiness = MANIFESTS_WRITTEN
    degraded = ("Degraded", False, "Applied", "")
    if readiness.degraded is not None:
        degraded = ("Degraded", True, *readiness.degraded)
    changed = _write_status(
        endpoint,
        updates={
            "observed_generation": generation,
            "ready_replicas": readiness.ready_replicas,
            "desired_replicas": int(((live or {}).get("spec") or {}).get("replicas") or 0),
            "last_reconciled_at": timezone.now(),
            "next_check_at": next_check(settled=readiness.settled),
        },
        conditions=[
            ("Ready", readiness.ready, readiness.reason, readiness.message),
            ("Progressing", not readiness.ready, readiness.reason, readiness.message),
            degraded,
        ],
        audit={"applied": outcome.changed, "pruned": outcome.pruned} if outcome.wrote else None,
    )
    if outcome.wrote:
        return Outcome.APPLIED
    return Outcome.CHANGED_STATUS if changed else Outcome.UNCHANGED


def _write_status(
    endpoint: Endpoint,
    *,
    updates: dict,
    conditions: list[tuple[str, bool, str, str]],
    audit: dict | None = None,
) -> bool:
    current, transitioned = endpoint.conditions, False
    for type_, status, reason, message in conditions:
        current, changed = set_condition(current, type_, status, reason, message)
        transitioned = transitioned or changed
    with transaction.atomic():
        Endpoint.objects.filter(pk=endpoint.pk).update(conditions=current, **updates)
        if audit is not None:
            record(
                actor=system_actor(ENDPOINTS, endpoint),
                action="endpoint.reconcile",
                target_type="endpoint",
                target_id=endpoint.name,
                tenant_slug=endpoint.tenant.slug,
                changes=audit,
            )
    endpoint.conditions = current
    return transitioned


def _delete(endpoint: Endpoint, backend: ClusterBackend) -> Outcome:
    removed = delete_all(
        backend, scopes=_scopes(endpoint), selector={ENDPOINT_LABEL: endpoint.name}
    )
    with transaction.atomic():
        # Lock order (docs/decisions/0006-lock-order.md): the endpoint row before the rows that
        # go with it, the audit chain head last.
        Endpoint.objects.select_for_update(of=("self",)).filter(pk=endpoint.pk).first()
        endpoint.delete()
        record(
            actor=system_actor(ENDPOINTS, endpoint),
            action="endpoint.deleted",
            target_type="endpoint",
            target_id=endpoint.name,
            tenant_slug=endpoint.tenant.slug,
            changes={"removed": removed},
        )
    return Outcome.DELETED
