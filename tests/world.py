"""A small, complete world for API tests: two tenants, every role, a catalog, an endpoint each."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth.models import User

from endpoints import services as endpoint_services
from endpoints.catalog import ModelVersionSpec
from endpoints.models import Endpoint, ModelVersion
from scaling.policy import parse_policy
from scaling.spec import ScalingSpec
from tenants.models import Tenant
from tenants.services import api_key_create
from tests.factories import (
    TenantFactory,
    UserFactory,
    member,
    platform_user,
    principal,
    system,
)

ROLES = ("platform_admin", "auditor", "tenant_admin", "deployer", "viewer")
TENANT_ROLES = ("tenant_admin", "deployer", "viewer")


def gpu_model_spec(name: str = "llama-8b", version: str = "1", **changes) -> ModelVersionSpec:
    values = {
        "name": name,
        "version": version,
        "source": "huggingface",
        "hf_repo": "meta-llama/Llama-3.1-8B-Instruct",
        "image": "vllm/vllm-openai:v0.11.0",
        "gpus_per_replica": 1,
        "cpu_millicores": 4000,
        "memory_bytes": 32 * 2**30,
        "expected_load_seconds": 90,
        **changes,
    }
    return ModelVersionSpec(**values)


def scaling(**overrides) -> ScalingSpec:
    return parse_policy({"preset": "balanced", **overrides})


def make_endpoint(tenant: Tenant, name: str, version: ModelVersion, **scaling_overrides):
    return endpoint_services.endpoint_create(
        actor=system(),
        tenant=tenant,
        name=name,
        model_version=version,
        scaling=scaling(**({"max_replicas": 2} | scaling_overrides)),
    )


@dataclass
class World:
    own: Tenant
    foreign: Tenant
    users: dict[str, User]
    keys: dict[str, str]
    platform_model: ModelVersion
    own_private_model: ModelVersion
    foreign_private_model: ModelVersion
    own_endpoint: Endpoint
    foreign_endpoint: Endpoint
    extra: dict = field(default_factory=dict)


def build_world() -> World:
    own, foreign = TenantFactory(slug="acme"), TenantFactory(slug="globex")
    users = {
        "platform_admin": platform_user("admin"),
        "auditor": platform_user("auditor"),
        "tenant_admin": member(own, "admin"),
        "deployer": member(own, "deployer"),
        "viewer": member(own, "viewer"),
    }
    member(foreign, "admin")
    member(foreign, "viewer")
    UserFactory(username="newbie")
    keys = {
        role: api_key_create(actor=principal(user), name=f"{role} key")[1]
        for role, user in users.items()
    }
    platform_model = endpoint_services.model_version_create(
        actor=system(), tenant=None, spec=gpu_model_spec()
    )
    own_private = endpoint_services.model_version_create(
        actor=system(), tenant=own, spec=gpu_model_spec("acme-tuned")
    )
    foreign_private = endpoint_services.model_version_create(
        actor=system(), tenant=foreign, spec=gpu_model_spec("globex-tuned")
    )
    return World(
        own=own,
        foreign=foreign,
        users=users,
        keys=keys,
        platform_model=platform_model,
        own_private_model=own_private,
        foreign_private_model=foreign_private,
        own_endpoint=make_endpoint(own, "chat", platform_model),
        foreign_endpoint=make_endpoint(foreign, "chat", platform_model),
    )
