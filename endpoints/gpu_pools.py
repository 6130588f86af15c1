"""Which GPU pool a model version runs on. The pools are configured in settings (`GPU_POOLS`)
and reach rendering through the RenderContext (control_plane/render_context.py)."""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings

from control_plane.errors import ValidationFailed
from control_plane.render_context import GpuPool, pools_from_setting

__all__ = ["GpuPool", "configured_pools", "pool_for"]


def configured_pools() -> tuple[GpuPool, ...]:
    return pools_from_setting(settings.GPU_POOLS)


def pool_for(*, gpus: int, mig_profile: str, pools: Sequence[GpuPool] | None = None) -> GpuPool:
    """The first pool offering what a replica needs, among `pools` (a render passes its
    context's) or else the configured ones (a service validating a change)."""
    candidates = configured_pools() if pools is None else pools
    for pool in candidates:
        if pool.offers(gpus=gpus, mig_profile=mig_profile):
            return pool
    need = f"MIG profile {mig_profile}" if mig_profile else f"{gpus} whole GPU(s)"
    names = ", ".join(p.name for p in candidates) or "none"
    raise ValidationFailed(
        f"No configured GPU pool offers {need} (pools: {names}).", field="model_version"
    )
