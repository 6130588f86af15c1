"""Unsaved model instances wired through their relations, so rendering needs no database."""

from __future__ import annotations

from control_plane.render_context import GpuPool, RenderContext
from endpoints.models import Endpoint, ModelVersion, Revision
from tenants.models import Quota, Tenant

H100 = GpuPool(
    name="h100",
    node_selector={"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
    tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
)
A100_MIG = GpuPool(
    name="a100-mig",
    node_selector={"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"},
    tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
    mig_profiles=("1g.10gb", "3g.40gb"),
)
# The platform the manifests tests render for, independent of the settings.
CONTEXT = RenderContext(
    gateway_name="inference-gateway",
    gateway_namespace="gateway-system",
    monitoring_namespace="monitoring",
    keda_http_namespace="keda",
    keda_http_interceptor_service="keda-add-ons-http-interceptor-proxy",
    keda_http_interceptor_port=8080,
    keda_http_scaler_address="keda-add-ons-http-external-scaler.keda:9090",
    keda_prometheus_address="http://prometheus-operated.monitoring.svc:9090",
    hf_token_secret_name="hf-token",
    endpoint_base_domain="inference.example.com",
    gpu_pools=(H100, A100_MIG),
)


def tenant(slug: str = "acme", **quota: object) -> Tenant:
    t = Tenant(slug=slug, display_name=slug.title())
    values = {
        "gpus": 8,
        "mig_slices": {"1g.10gb": 4, "3g.40gb": 2, "7g.80gb": 0},
        "max_endpoints": 5,
        "cpu_millicores": 128_000,
        "memory_bytes": 1024 * 2**30,
    }
    Quota(tenant=t, **{**values, **quota})
    return t


def model_version(**fields: object) -> ModelVersion:
    values = {
        "name": "llama",
        "version": "3.1-8b",
        "source": ModelVersion.Source.HUGGING_FACE,
        "hf_repo": "meta-llama/Llama-3.1-8B-Instruct",
        "hf_revision": "0e9e39f",
        "image": "vllm/vllm-openai:v0.11.0",
        "engine_args": {"max_model_len": 8192, "enable_prefix_caching": True},
        "gpus_per_replica": 2,
        "cpu_millicores": 8000,
        "memory_bytes": 64 * 2**30,
        "expected_load_seconds": 240,
    }
    return ModelVersion(**{**values, **fields})


def mig_model_version(**fields: object) -> ModelVersion:
    return model_version(
        **{"gpus_per_replica": 0, "mig_profile": "3g.40gb", "engine_args": {}, **fields}
    )


def endpoint(
    *,
    stable: ModelVersion | None = None,
    canary: ModelVersion | None = None,
    canary_weight: int = 0,
    name: str = "chat",
    owner: Tenant | None = None,
) -> Endpoint:
    e = Endpoint(
        tenant=owner or tenant(),
        name=name,
        served_model_name="llama-3.1-8b",
        canary_weight=canary_weight,
    )
    e.stable_revision = Revision(endpoint=e, model_version=stable or model_version(), number=1)
    if canary is not None:
        e.canary_revision = Revision(endpoint=e, model_version=canary, number=2)
    return e
