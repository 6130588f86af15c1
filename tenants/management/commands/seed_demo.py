"""Demo data for `make run`: a platform admin, two tenants with quotas and members, a few
model versions and one endpoint. Idempotent; prints the console URL, the login and a fresh
admin API key."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand
from django.db import transaction

from endpoints import services as endpoint_services
from endpoints.catalog import ModelVersionSpec
from endpoints.models import Endpoint, ModelVersion
from scaling.policy import parse_policy
from tenants import services
from tenants.models import Membership, PlatformRole, Tenant
from tenants.principals import principal_for_user

DEMO_PASSWORD = "demo-password-change-me"
DEMO_KEY_NAME = "make-run demo key"
IMAGE = "vllm/vllm-openai:v0.11.0"

TENANTS = [
    ("research", "Research", services.QuotaValues(8, {"1g.10gb": 4}, 5, 128_000, 1024 * 2**30)),
    (
        "support-bots",
        "Support bots",
        services.QuotaValues(4, {"3g.40gb": 2}, 3, 64_000, 512 * 2**30),
    ),
]
MODEL_VERSIONS = [
    ModelVersionSpec(
        name="llama-3.1-8b-instruct",
        version="2024-07",
        source="huggingface",
        hf_repo="meta-llama/Llama-3.1-8B-Instruct",
        hf_revision="0e9e39f249a16976918f6564b8830bc894c89659",
        image=IMAGE,
        engine_args={"max_model_len": 8192, "enable_prefix_caching": True, "max_num_seqs": 128},
        gpus_per_replica=1,
        expected_load_seconds=90,
    ),
    ModelVersionSpec(
        name="qwen2.5-7b-instruct",
        version="1.0",
        source="huggingface",
        hf_repo="Qwen/Qwen2.5-7B-Instruct",
        image=IMAGE,
        engine_args={"max_model_len": 4096},
        mig_profile="3g.40gb",
        memory_bytes=24 * 2**30,
        expected_load_seconds=120,
    ),
    ModelVersionSpec(
        name="llama-3.1-70b-instruct",
        version="2024-07",
        source="s3",
        uri="s3://models/meta-llama/Llama-3.1-70B-Instruct",
        image=IMAGE,
        engine_args={"tensor_parallel_size": 4, "max_model_len": 16384},
        gpus_per_replica=4,
        cpu_millicores=16_000,
        memory_bytes=256 * 2**30,
        expected_load_seconds=300,
    ),
]


class Command(BaseCommand):
    help = "Seed demo data (idempotent) and print how to sign in."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000/")

    @transaction.atomic
    def handle(self, *args, url: str, **options) -> None:
        admin = self._user("admin", PlatformRole.Role.ADMIN)
        actor = principal_for_user(admin, request_id="seed-demo")
        for slug, name, quota in TENANTS:
            if not Tenant.objects.filter(slug=slug).exists():
                services.tenant_create(actor=actor, slug=slug, display_name=name, quota=quota)
        research = Tenant.objects.get(slug="research")
        # Every tenant has an admin of its own, who manages its members and keys.
        for username, role in (("alice", Membership.Role.ADMIN), ("bob", Membership.Role.DEPLOYER)):
            Membership.objects.update_or_create(
                tenant=research, user=self._user(username, None), defaults={"role": role}
            )
        self._user("auditor", PlatformRole.Role.AUDITOR)
        for spec in MODEL_VERSIONS:
            if not ModelVersion.objects.filter(name=spec.name, version=spec.version).exists():
                endpoint_services.model_version_create(actor=actor, tenant=None, spec=spec)
        if not Endpoint.objects.filter(tenant=research, name="chat").exists():
            endpoint_services.endpoint_create(
                actor=actor,
                tenant=research,
                name="chat",
                served_model_name="llama-3.1-8b",
                model_version=ModelVersion.objects.get(name="llama-3.1-8b-instruct"),
                scaling=parse_policy({"preset": "balanced", "max_replicas": 4}),
            )
        for old in admin.api_keys.filter(name=DEMO_KEY_NAME, revoked_at__isnull=True):
            services.api_key_revoke(actor=actor, key=old)
        _, plaintext = services.api_key_create(actor=actor, name=DEMO_KEY_NAME)
        self.stdout.write(
            "\n".join(
                [
                    "",
                    f"Console:      {url}",
                    f"API docs:     {url}api/docs/",
                    f"Login:        admin / {DEMO_PASSWORD}  (also alice: research admin, "
                    "bob: research deployer, auditor)",
                    f"Admin API key: {plaintext}",
                    f"  try: curl -H 'Authorization: Bearer {plaintext}' {url}api/v1/tenants/",
                    "",
                ]
            )
        )

    def _user(self, username: str, platform_role: str | None) -> User:
        user, created = User.objects.get_or_create(username=username)
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        if platform_role:
            PlatformRole.objects.get_or_create(user=user, defaults={"role": platform_role})
        return user
