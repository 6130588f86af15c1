"""Tenants, their quotas, who may act on them, and API keys."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from control_plane.reconciled import Reconciled

# DNS-1123 label; 56 characters at most so that `tenant-<slug>` stays a valid 63-character name.
SLUG_MAX_LENGTH = 56
NAMESPACE_PREFIX = "tenant-"
DNS1123_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
dns1123_label = RegexValidator(
    DNS1123_LABEL_PATTERN,
    "must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a "
    "letter or digit",
)

MIG_PROFILES = ("1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb")


class PlatformRole(models.Model):
    """A platform-wide role. Users without one only see the tenants they are members of."""

    class Role(models.TextChoices):
        ADMIN = "admin"
        AUDITOR = "auditor"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="platform_role"
    )
    role = models.CharField(max_length=16, choices=Role.choices)

    def __str__(self) -> str:
        return f"{self.user} ({self.role})"


class Tenant(Reconciled):
    class State(models.TextChoices):
        ACTIVE = "active"
        SUSPENDED = "suspended"
        DELETING = "deleting"

    slug = models.CharField(max_length=SLUG_MAX_LENGTH, unique=True, validators=[dns1123_label])
    display_name = models.CharField(max_length=200)
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    # `status.used` of the namespace's ResourceQuota as last read back from the cluster.
    quota_used = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug

    @property
    def namespace(self) -> str:
        return f"{NAMESPACE_PREFIX}{self.slug}"


class Quota(models.Model):
    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="quota")
    gpus = models.PositiveIntegerField(default=0)
    # {"1g.10gb": 4, ...}: MIG slices granted per profile; profiles absent are not granted.
    mig_slices = models.JSONField(default=dict, blank=True)
    max_endpoints = models.PositiveIntegerField(default=0)
    cpu_millicores = models.PositiveBigIntegerField(default=0)
    memory_bytes = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"quota of {self.tenant}"


class Membership(models.Model):
    class Role(models.TextChoices):
        ADMIN = "admin"
        DEPLOYER = "deployer"
        VIEWER = "viewer"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["tenant__slug", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="one_membership_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} of {self.tenant}"


class ApiKey(models.Model):
    """A bearer key. Only a hash of the secret is stored; the prefix identifies it in lists."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"

    def is_usable(self, now: timezone.datetime) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > now
