"""The replica profiles the simulator knows, and which one an endpoint's model version gets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scaling.simulator.hardware import (
    H100,
    H100_MIG_3G,
    LLAMA_8B,
    LLAMA_70B,
    ReplicaProfile,
    build_profile,
)

HARDWARE: dict[str, ReplicaProfile] = {
    # vLLM defaults on a large GPU: 256 sequences, 8192-token chunked-prefill budget
    # (https://docs.vllm.ai/en/latest/configuration/engine_args.html). Cold start: container
    # start, 16 GB of weights from the node's disk, CUDA graph capture and the readiness probe,
    # 60-120 s with weights cached on the node, 180-300 s when image and weights are pulled.
    "llama-3.1-8b/h100-80gb": build_profile("llama-3.1-8b/h100-80gb", LLAMA_8B, H100),
    # 141 GB of weights over four GPUs; loading and pulling take about 2-3x the 8B model's time.
    "llama-3.1-70b/4xh100-80gb": build_profile(
        "llama-3.1-70b/4xh100-80gb",
        LLAMA_70B,
        H100,
        tensor_parallel=4,
        activation_reserve_gb=3.0,
        cold_start_cached_s=(150.0, 300.0),
        cold_start_uncached_s=(480.0, 900.0),
    ),
    # A 3g.40gb slice leaves ~18 GB for the KV cache after the 16 GB of weights; it bills as
    # one "GPU" of its pool (the MIG pool's unit), not as 3/7 of one.
    "llama-3.1-8b/h100-mig-3g.40gb": build_profile(
        "llama-3.1-8b/h100-mig-3g.40gb", LLAMA_8B, H100_MIG_3G, gpus_per_replica=1
    ),
}

DEFAULT_PROFILE = HARDWARE["llama-3.1-8b/h100-80gb"]


def profile_for(
    model_name: str,
    *,
    gpus_per_replica: int = 1,
    mig_profile: str = "",
    engine_args: Mapping[str, Any] | None = None,
) -> ReplicaProfile:
    """The profile for a model version's fields: the model family from its name or Hugging Face
    repo (70B when it says "70b", else the 8B class), the accelerator from the MIG profile or
    the GPU count (tensor parallelism across them). Engine arguments that change capacity or
    memory (max_num_seqs, max_num_batched_tokens, max_model_len, gpu_memory_utilization)
    override vLLM's defaults. KeyError for a combination without a profile."""
    model = LLAMA_70B if "70b" in model_name.lower() else LLAMA_8B
    if mig_profile:
        if mig_profile != "3g.40gb" or model is LLAMA_70B:
            raise KeyError(f"no replica profile for {model_name} on MIG {mig_profile}")
        gpu, tp, base = H100_MIG_3G, 1, HARDWARE["llama-3.1-8b/h100-mig-3g.40gb"]
    else:
        gpu, tp = H100, max(1, gpus_per_replica)
        base = HARDWARE["llama-3.1-70b/4xh100-80gb"] if model is LLAMA_70B else DEFAULT_PROFILE
    args = dict(engine_args or {})
    overrides = {
        field: args[arg]
        for arg, field in (
            ("max_num_seqs", "max_num_seqs"),
            ("max_num_batched_tokens", "max_batched_tokens"),
            ("max_model_len", "max_model_len"),
            ("gpu_memory_utilization", "gpu_memory_utilization"),
        )
        if arg in args
    }
    if not overrides and (mig_profile or tp == base.gpus_per_replica):
        return base
    name = f"{model.name}/{tp}x{gpu.name}" if not mig_profile else base.name
    try:
        return build_profile(
            name,
            model,
            gpu,
            tensor_parallel=tp,
            activation_reserve_gb=3.0 if model is LLAMA_70B else 2.0,
            cold_start_cached_s=base.cold_start_cached_s,
            cold_start_uncached_s=base.cold_start_uncached_s,
            gpus_per_replica=base.gpus_per_replica if mig_profile else tp,
            **overrides,
        )
    except ValueError as exc:
        raise KeyError(str(exc)) from None
