"""The append-only audit trail.

Events of one tenant form a hash chain (and platform-wide events form the `platform` chain): each
event stores the hash of its predecessor, so removing, reordering or editing an event breaks every
later link. Tenants and users are referenced by value, not by foreign key, because the trail must
outlive the rows it describes.
"""

from __future__ import annotations

from django.db import models

PLATFORM_CHAIN = "platform"


class AuditEvent(models.Model):
    class ActorType(models.TextChoices):
        USER = "user"
        API_KEY = "api_key"
        SYSTEM = "system"

    class Outcome(models.TextChoices):
        SUCCESS = "success"
        DENIED = "denied"
        FAILURE = "failure"

    chain = models.CharField(max_length=80)
    sequence = models.PositiveBigIntegerField()
    occurred_at = models.DateTimeField(db_index=True)
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    actor = models.CharField(max_length=150)
    actor_user_id = models.BigIntegerField(null=True, blank=True)
    api_key_prefix = models.CharField(max_length=16, blank=True)
    tenant_slug = models.CharField(max_length=64, blank=True, db_index=True)
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64)
    target_id = models.CharField(max_length=200)
    request_id = models.CharField(max_length=64, blank=True)
    source_address = models.GenericIPAddressField(null=True, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    reason = models.TextField(blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["chain", "sequence"], name="one_event_per_link")
        ]
        indexes = [models.Index(fields=["tenant_slug", "occurred_at"])]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor} ({self.outcome})"


class AuditChainHead(models.Model):
    """The last link of each chain, locked while an event is appended so links never fork."""

    chain = models.CharField(max_length=80, primary_key=True)
    sequence = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"{self.chain}@{self.sequence}"
