"""What rendering needs from the settings, read once into a frozen value.

The manifests functions (tenants/, endpoints/, scaling/manifests.py) take a `RenderContext`
instead of reading django.conf: they stay pure functions of their arguments, two contexts give
two outputs side by side (a test, a preview for another cluster) without overriding settings,
and a reconcile renders with one consistent view of the settings even if they are reloaded.
Callers (the reconcilers, the console's manifests panel, commands, tests) build it with
`RenderContext.from_settings(settings)`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class GpuPool:
    """A group of GPU nodes (GPU_POOLS): how a pod lands on it and what it offers."""

    name: str
    node_selector: dict[str, str]
    tolerations: list[dict] = field(default_factory=list)
    gpu_product: str = ""
    gpu_memory_gb: int = 0
    mig_profiles: tuple[str, ...] = ()

    def offers(self, *, gpus: int, mig_profile: str) -> bool:
        if mig_profile:
            return mig_profile in self.mig_profiles
        # A pool partitioned into MIG slices does not hand out whole GPUs.
        return gpus > 0 and not self.mig_profiles

    @classmethod
    def from_setting(cls, pool: Mapping[str, Any]) -> GpuPool:
        return cls(
            name=pool["name"],
            node_selector=dict(pool.get("node_selector", {})),
            tolerations=[dict(t) for t in pool.get("tolerations", [])],
            gpu_product=pool.get("gpu_product", ""),
            gpu_memory_gb=int(pool.get("gpu_memory_gb", 0)),
            mig_profiles=tuple(pool.get("mig_profiles", ())),
        )


@dataclass(frozen=True)
class RenderContext:
    """The platform around the tenants' objects: where the gateway, monitoring and the KEDA
    HTTP add-on live, the Secret holding the Hugging Face token, the domain endpoints answer
    under, and the GPU pools."""

    gateway_name: str
    gateway_namespace: str
    monitoring_namespace: str
    keda_http_namespace: str
    keda_http_interceptor_service: str
    keda_http_interceptor_port: int
    keda_http_scaler_address: str
    keda_prometheus_address: str
    hf_token_secret_name: str
    # Endpoints answer at <endpoint>.<tenant>.<domain>.
    endpoint_base_domain: str
    gpu_pools: tuple[GpuPool, ...] = field(default=())

    @classmethod
    def from_settings(cls, settings: Any) -> RenderContext:
        """From django.conf.settings (or anything with the same attributes)."""
        return cls(
            gateway_name=settings.GATEWAY_NAME,
            gateway_namespace=settings.GATEWAY_NAMESPACE,
            monitoring_namespace=settings.MONITORING_NAMESPACE,
            keda_http_namespace=settings.KEDA_HTTP_NAMESPACE,
            keda_http_interceptor_service=settings.KEDA_HTTP_INTERCEPTOR_SERVICE,
            keda_http_interceptor_port=settings.KEDA_HTTP_INTERCEPTOR_PORT,
            keda_http_scaler_address=settings.KEDA_HTTP_SCALER_ADDRESS,
            keda_prometheus_address=settings.KEDA_PROMETHEUS_ADDRESS,
            hf_token_secret_name=settings.HF_TOKEN_SECRET_NAME,
            endpoint_base_domain=settings.ENDPOINT_BASE_DOMAIN,
            gpu_pools=pools_from_setting(settings.GPU_POOLS),
        )


def pools_from_setting(pools: Iterable[Mapping[str, Any]]) -> tuple[GpuPool, ...]:
    return tuple(GpuPool.from_setting(pool) for pool in pools)
