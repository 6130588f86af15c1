"""The periodic tasks of the whole control plane: the resync, which queues every object that is
due, and orphan pruning. They belong to the project shell, which may import every app (the
shared kernel does not), and are registered through `CELERY_IMPORTS`."""

from __future__ import annotations

from celery import shared_task

from control_plane.orphans import prune_orphans as prune
from control_plane.reconcile import claim_due, cluster_backend
from control_plane.scheduling import queued_message_count, send_reconcile
from endpoints.models import Endpoint
from tenants.models import Tenant

# (model, task) of every reconciled kind, in the order the resync queues them.
RECONCILED = ((Tenant, "tenants.reconcile_tenant"), (Endpoint, "endpoints.reconcile_endpoint"))


@shared_task(name="control_plane.resync", acks_late=True)
def resync() -> dict[str, int]:
    """Queue a reconcile of every object whose desired state is ahead of what was observed, or
    whose next check is due, unless one is already queued: lost messages and killed workers
    heal here, and a backlog never holds an object twice."""
    # An empty queue means no queued message can still arrive: marks left are from messages
    # lost with a killed worker, and their objects are queued again now.
    marks_valid = queued_message_count() != 0
    queued = {}
    for model, task_name in RECONCILED:
        pks = claim_due(model, marks_valid=marks_valid)
        for pk in pks:
            send_reconcile(task_name, pk)
        queued[model._meta.model_name + "s"] = len(pks)
    return queued


@shared_task(name="control_plane.prune_orphans", acks_late=True)
def prune_orphans() -> list[str]:
    return prune(cluster_backend())
