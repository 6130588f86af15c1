"""The model catalog, endpoints and their revisions."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from tenants.models import Tenant, dns1123_label

# `<endpoint>-r<N>` must stay a valid 63-character Kubernetes name (and a Service name) for any N
# below a million: 63 - len("-r999999").
ENDPOINT_NAME_MAX_LENGTH = 55

ENGINE_ARGUMENTS = {
    # name: (vLLM flag, type). https://docs.vllm.ai/en/latest/configuration/engine_args.html
    "max_model_len": ("--max-model-len", int),
    "dtype": ("--dtype", str),
    "quantization": ("--quantization", str),
    "tensor_parallel_size": ("--tensor-parallel-size", int),
    "gpu_memory_utilization": ("--gpu-memory-utilization", float),
    "enable_prefix_caching": ("--enable-prefix-caching", bool),
    "max_num_seqs": ("--max-num-seqs", int),
    "max_num_batched_tokens": ("--max-num-batched-tokens", int),
}


class ModelVersion(models.Model):
    class Source(models.TextChoices):
        HUGGING_FACE = "huggingface"
        S3 = "s3"
        PVC = "pvc"

    class State(models.TextChoices):
        ACTIVE = "active"
        DEPRECATED = "deprecated"

    # Null for a platform-wide entry; otherwise private to one tenant.
    tenant = models.ForeignKey(
        Tenant, null=True, blank=True, on_delete=models.CASCADE, related_name="model_versions"
    )
    name = models.CharField(max_length=100)
    version = models.CharField(max_length=64)
    source = models.CharField(max_length=16, choices=Source.choices)
    hf_repo = models.CharField(max_length=200, blank=True)
    hf_revision = models.CharField(max_length=100, blank=True)
    uri = models.CharField(max_length=500, blank=True)
    image = models.CharField(max_length=300)
    engine_args = models.JSONField(default=dict, blank=True)
    gpus_per_replica = models.PositiveIntegerField(default=0)
    mig_profile = models.CharField(max_length=16, blank=True)
    cpu_millicores = models.PositiveBigIntegerField(default=4000)
    memory_bytes = models.PositiveBigIntegerField(default=32 * 2**30)
    expected_load_seconds = models.PositiveIntegerField(default=120)
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["name", "version", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "name", "version"], name="one_private_model_version"
            ),
            models.UniqueConstraint(
                fields=["name", "version"],
                condition=models.Q(tenant__isnull=True),
                name="one_platform_model_version",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}:{self.version}"

    @property
    def is_platform_wide(self) -> bool:
        return self.tenant_id is None

    @property
    def model_reference(self) -> str:
        """What vLLM's `--model` receives: a Hugging Face repo id or a local path."""
        if self.source == self.Source.HUGGING_FACE:
            return self.hf_repo
        return "/models/weights"


class Endpoint(models.Model):
    class State(models.TextChoices):
        ACTIVE = "active"
        DELETING = "deleting"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="endpoints")
    name = models.CharField(max_length=ENDPOINT_NAME_MAX_LENGTH, validators=[dns1123_label])
    served_model_name = models.CharField(max_length=200)
    stable_revision = models.ForeignKey(
        "Revision", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    canary_revision = models.ForeignKey(
        "Revision", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Share of traffic (percent) the HTTPRoute sends to the canary; owned by rollouts.
    canary_weight = models.PositiveSmallIntegerField(default=0)
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    generation = models.PositiveBigIntegerField(default=1)
    observed_generation = models.PositiveBigIntegerField(default=0)
    conditions = models.JSONField(default=list, blank=True)
    last_reconciled_at = models.DateTimeField(null=True, blank=True)
    ready_replicas = models.PositiveIntegerField(default=0)
    # A worker holds the object until then while it reconciles it (control_plane/reconcile.py).
    reconcile_lease_until = models.DateTimeField(null=True, blank=True)
    # The resync queued a reconcile of it and queues no other until then, or until a worker
    # claims it: a backlog holds each object once (control_plane/reconcile.py).
    reconcile_queued_until = models.DateTimeField(null=True, blank=True)
    # When the resync looks again although nothing changed: soon while progressing or failing,
    # after RESYNC_STALE_AFTER_SECONDS once settled (to catch drift and heal lost messages).
    next_check_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["tenant__slug", "name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="one_endpoint_name_per_tenant")
        ]

    def __str__(self) -> str:
        return f"{self.tenant.slug}/{self.name}"

    @property
    def public_host(self) -> str:
        from django.conf import settings

        return f"{self.name}.{self.tenant.slug}.{settings.ENDPOINT_BASE_DOMAIN}"

    @property
    def public_url(self) -> str:
        return f"https://{self.public_host}/v1"

    def revisions_in_service(self) -> list[Revision]:
        return [r for r in (self.stable_revision, self.canary_revision) if r is not None]


class Revision(models.Model):
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="revisions")
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, related_name="revisions"
    )
    number = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["endpoint", "number"]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "number"], name="one_revision_number")
        ]

    def __str__(self) -> str:
        return self.kubernetes_name

    @property
    def kubernetes_name(self) -> str:
        return f"{self.endpoint.name}-r{self.number}"
