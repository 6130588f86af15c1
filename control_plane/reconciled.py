"""The bookkeeping every reconciled kind (tenants, endpoints, rollouts) carries, declared once:
the reconcile driver (control_plane/reconcile_driver.py) reads and writes these fields."""

from __future__ import annotations

from django.db import models


class Reconciled(models.Model):
    # The services bump `generation`; the reconciler writes the rest.
    generation = models.PositiveBigIntegerField(default=1)
    observed_generation = models.PositiveBigIntegerField(default=0)
    conditions = models.JSONField(default=list, blank=True)
    last_reconciled_at = models.DateTimeField(null=True, blank=True)
    # A worker holds the object until then while it reconciles it (control_plane/reconcile.py).
    reconcile_lease_until = models.DateTimeField(null=True, blank=True)
    # The resync queued a reconcile of it and queues no other until then, or until a worker
    # claims it: a backlog holds each object once (control_plane/reconcile.py).
    reconcile_queued_until = models.DateTimeField(null=True, blank=True)
    # When the resync looks again although nothing changed: soon while progressing or failing,
    # after RESYNC_STALE_AFTER_SECONDS once settled (to catch drift and heal lost messages).
    next_check_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        abstract = True
