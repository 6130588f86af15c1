"""GPU pools configured in settings (`GPU_POOLS`), and which pool a model version runs on."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings

from control_plane.errors import ValidationFailed


@dataclass(frozen=True)
class GpuPool:
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


def configured_pools() -> list[GpuPool]:
    return [
        GpuPool(
            name=pool["name"],
            node_selector=dict(pool.get("node_selector", {})),
            tolerations=list(pool.get("tolerations", [])),
            gpu_product=pool.get("gpu_product", ""),
            gpu_memory_gb=int(pool.get("gpu_memory_gb", 0)),
            mig_profiles=tuple(pool.get("mig_profiles", ())),
        )
        for pool in settings.GPU_POOLS
    ]


def pool_for(*, gpus: int, mig_profile: str) -> GpuPool:
    for pool in configured_pools():
        if pool.offers(gpus=gpus, mig_profile=mig_profile):
            return pool
    need = f"MIG profile {mig_profile}" if mig_profile else f"{gpus} whole GPU(s)"
    names = ", ".join(p.name for p in configured_pools()) or "none"
    raise ValidationFailed(
        f"No configured GPU pool offers {need} (pools: {names}).", field="model_version"
    )
