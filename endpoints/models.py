"""The model catalog, endpoints and their revisions."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from control_plane.reconciled import Reconciled
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


class Endpoint(Reconciled):
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
    # The revision a finished rollout took out of service: no traffic any more, its pods kept
    # until their in-flight requests drain (Rollout.retire_after), then pruned.
    retiring_revision = models.ForeignKey(
        "Revision", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Share of traffic (percent) the HTTPRoute sends to the canary; owned by rollouts.
    canary_weight = models.PositiveSmallIntegerField(default=0)
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    ready_replicas = models.PositiveIntegerField(default=0)
    # What the autoscaler last asked of the stable revision (its Deployment's `spec.replicas`, owned
    # by KEDA's HPA), as read back; 0 with a backend that reports nothing.
    desired_replicas = models.PositiveIntegerField(default=0)

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
        """Every revision that may hold pods: stable, canary, and one still draining."""
        revisions = (self.stable_revision, self.canary_revision, self.retiring_revision)
        return [r for r in revisions if r is not None]


class Revision(models.Model):
    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="revisions")
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, related_name="revisions"
    )
    number = models.PositiveIntegerField()
    # Engine arguments of this revision over the model version's (a rollout may change them).
    engine_args = models.JSONField(default=dict, blank=True)
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

    @property
    def effective_engine_args(self) -> dict:
        return {**self.model_version.engine_args, **self.engine_args}


class Rollout(Reconciled):
    """Moves an endpoint from its stable revision to a new one: a canary in weighted steps
    promoted only on passing analysis, or a direct replacement once the new revision is ready.
    Reconciled like tenants and endpoints (`endpoints.rollouts.reconciler`)."""

    class Strategy(models.TextChoices):
        CANARY = "canary"
        DIRECT = "direct"

    class State(models.TextChoices):
        PENDING = "pending"  # the canary is provisioning, or warming up
        PROGRESSING = "progressing"
        PAUSED = "paused"
        PROMOTED = "promoted"
        ROLLED_BACK = "rolled_back"
        ABORTED = "aborted"

    ACTIVE_STATES = (State.PENDING, State.PROGRESSING, State.PAUSED)

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="rollouts")
    # Revisions go only with their endpoint, and the endpoint's rollouts with them.
    from_revision = models.ForeignKey(Revision, on_delete=models.CASCADE, related_name="+")
    to_revision = models.ForeignKey(Revision, on_delete=models.CASCADE, related_name="+")
    strategy = models.CharField(max_length=16, choices=Strategy.choices)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    # The analysis settings as started: steps (percent), intervals, gates
    # (endpoints.rollouts.spec.RolloutSpec).
    spec = models.JSONField(default=dict)
    step = models.PositiveSmallIntegerField(default=0)  # index into spec["steps"]
    weight = models.PositiveSmallIntegerField(default=0)  # percent of traffic to the canary
    # Sequential tests' evidence so far (scaling.analysis.gate), and the counters of the gate.
    evidence = models.JSONField(default=dict, blank=True)
    failed_checks = models.PositiveIntegerField(default=0)
    inconclusive_streak = models.PositiveIntegerField(default=0)
    step_passed_seconds = models.FloatField(default=0.0)
    canary_ready_at = models.DateTimeField(null=True, blank=True)
    # The next analysis window opens here: it starts where the last counted one ended.
    window_start = models.DateTimeField(null=True, blank=True)
    # Why the rollout is where it is (the last transition's reason), for people.
    message = models.TextField(blank=True)
    # After promotion or rollback: the endpoint generation that carries the weight change, and
    # when the retired revision's objects may go (its in-flight requests have drained).
    retire_generation = models.PositiveBigIntegerField(null=True, blank=True)
    retire_after = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["endpoint", "-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint"],
                condition=models.Q(state__in=["pending", "progressing", "paused"]),
                name="one_active_rollout_per_endpoint",
            )
        ]

    def __str__(self) -> str:
        return f"{self.endpoint} rollout {self.pk} ({self.state})"

    @property
    def is_active(self) -> bool:
        return self.state in self.ACTIVE_STATES


class RolloutCheck(models.Model):
    """One analysis of one window: the evidence a promotion or rollback carries."""

    class Verdict(models.TextChoices):
        PASS = "pass"
        FAIL = "fail"
        INCONCLUSIVE = "inconclusive"

    rollout = models.ForeignKey(Rollout, on_delete=models.CASCADE, related_name="checks")
    number = models.PositiveIntegerField()
    step = models.PositiveSmallIntegerField()
    weight = models.PositiveSmallIntegerField()
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    queries = models.JSONField(default=dict)
    canary = models.JSONField(default=dict)
    stable = models.JSONField(default=dict)
    statistics = models.JSONField(default=dict)
    verdict = models.CharField(max_length=16, choices=Verdict.choices)
    reason = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["rollout", "number"]
        constraints = [
            models.UniqueConstraint(fields=["rollout", "number"], name="one_check_number")
        ]

    def __str__(self) -> str:
        return f"check {self.number} of rollout {self.rollout_id}: {self.verdict}"
