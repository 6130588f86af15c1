"""Serving cost of one vLLM replica, from the model's shape and the accelerator's limits.

A step of vLLM's engine runs every scheduled token through the model once. Its duration here is

    overhead + max(weights read, linear FLOPs) + KV cache read + prefill attention FLOPs

- The weights are read once per step from HBM; the linear layers cost 2 x parameters FLOPs per
  token. A decode step of a small batch is bound by the first, a prefill chunk by the second.
- Each decoding sequence reads its whole KV cache: step time grows with the tokens attended.
- A prefill token at position p attends to p earlier tokens: 4 x layers x hidden x p FLOPs,
  so a prompt's prefill grows with its square (the quadratic attention term).
- Achieved fractions of peak bandwidth and FLOP/s, and the per-step overhead, are the fitted
  constants; `calibration.py` holds the published measurements they reproduce.

KV capacity follows vLLM's memory profiling: `gpu_memory_utilization` of the memory, minus the
weights and the activation peak, in blocks of `block_size` tokens.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

GB = 1e9


@dataclass(frozen=True)
class GpuSpec:
    name: str
    memory_gb: float
    hbm_tb_s: float  # peak HBM bandwidth
    bf16_tflops: float  # peak dense BF16 tensor FLOP/s


@dataclass(frozen=True)
class ModelSpec:
    name: str
    params_b: float  # parameters, billions
    layers: int
    hidden: int
    kv_heads: int
    head_dim: int
    bytes_per_param: float = 2.0  # BF16 weights

    @property
    def weight_bytes(self) -> float:
        return self.params_b * 1e9 * self.bytes_per_param

    @property
    def kv_bytes_per_token(self) -> int:
        # K and V, per layer and KV head, in BF16.
        return 2 * self.layers * self.kv_heads * self.head_dim * 2


# Data-sheet peaks. H100 SXM: https://www.nvidia.com/en-us/data-center/h100/ (3.35 TB/s, 989
# TFLOPS dense BF16). A100 80GB SXM: https://www.nvidia.com/en-us/data-center/a100/ (2.04 TB/s,
# 312 TFLOPS). MIG 3g.40gb on an H100 80GB has 3 of 7 compute slices and 4 of 8 memory slices
# (40 GB), so about 3/7 of the FLOP/s and half the bandwidth:
# https://docs.nvidia.com/datacenter/tesla/mig-user-guide/ (supported profiles, H100).
H100 = GpuSpec("h100-80gb", 80.0, 3.35, 989.0)
A100 = GpuSpec("a100-80gb", 80.0, 2.04, 312.0)
H100_MIG_3G = GpuSpec("h100-mig-3g.40gb", 40.0, 3.35 * 4 / 8, 989.0 * 3 / 7)

# Shapes from the models' config.json on Hugging Face (meta-llama/Llama-3.1-8B-Instruct,
# meta-llama/Llama-3.1-70B-Instruct): layers, hidden size, 8 KV heads of 128 dimensions.
LLAMA_8B = ModelSpec("llama-3.1-8b", 8.03, 32, 4096, 8, 128)
LLAMA_70B = ModelSpec("llama-3.1-70b", 70.6, 80, 8192, 8, 128)

# Achieved fractions of the peaks, fitted to calibration.MEASUREMENTS (see its tests).
HBM_EFFICIENCY = 0.85
LINEAR_MFU = 0.40
ATTENTION_MFU = 0.50
# Scheduler, sampling and kernel launches per engine step (vLLM V1 with CUDA graphs).
STEP_OVERHEAD_S = 0.001
# The prompt length a profile's prefill rate is measured on: a docqa-sized prompt, long enough
# that the attention term counts, one chunk of vLLM's default budget.
PREFILL_REFERENCE_TOKENS = 8192
# Two all-reduces per layer under tensor parallelism, ~10 us each over NVLink.
ALL_REDUCE_S = 10e-6
# Tensor-parallel matmuls on a quarter of the weights reach a lower share of peak.
TP_COMPUTE_EFFICIENCY = 0.85


@dataclass(frozen=True)
class ReplicaProfile:
    name: str
    gpus_per_replica: int
    # Seconds per step: fixed, weights read, linear per token, KV read per attended token,
    # prefill attention per (token x earlier position).
    step_fixed_s: float
    weights_s: float
    linear_s_per_token: float
    kv_s_per_token: float
    attention_s_per_pair: float
    # vLLM `--max-num-seqs` (default 256) and `--max-num-batched-tokens` (chunked-prefill budget).
    max_num_seqs: int
    max_batched_tokens: int
    # KV-cache capacity in tokens across the replica's GPUs, and vLLM's block size.
    kv_capacity_tokens: int
    block_size: int
    max_model_len: int
    # Pod start to Ready: weights cached on the node vs. pulled from the registry / object store.
    cold_start_cached_s: tuple[float, float]
    cold_start_uncached_s: tuple[float, float]

    def step_s(self, tokens: int, attended: int = 0, prefill_pairs: float = 0.0) -> float:
        """One engine step: `tokens` scheduled (decode + prefill), `attended` KV tokens read by
        the decoding sequences, `prefill_pairs` (prefill token, earlier position) pairs."""
        if tokens <= 0:
            return 0.0
        return (
            self.step_fixed_s
            + max(self.weights_s, tokens * self.linear_s_per_token)
            + attended * self.kv_s_per_token
            + prefill_pairs * self.attention_s_per_pair
        )

    def decode_step_s(self, batch: int, context: int = 0) -> float:
        """A decode-only step of `batch` sequences holding `context` tokens each."""
        return self.step_s(batch, batch * context)

    def prefill_s(self, prompt: int, chunk: int | None = None) -> float:
        """A lone prompt's prefill in chunks of the token budget (its TTFT on an idle replica)."""
        chunk = chunk or self.max_batched_tokens
        total, done = 0.0, 0
        while done < prompt:
            c = min(chunk, prompt - done)
            total += self.step_s(c, 0, prefill_pairs(done, c))
            done += c
        return total

    @property
    def prefill_tokens_per_s(self) -> float:
        """Prompt tokens an idle replica prefills per second, on an 8k-token prompt: how a
        target in prompt tokens per second carries from one profile to another."""
        return PREFILL_REFERENCE_TOKENS / self.prefill_s(PREFILL_REFERENCE_TOKENS)

    def longest_prefill_within(self, seconds: float) -> int:
        """The longest prompt (uncached tokens) an idle replica prefills within `seconds`."""
        low, high = 0, self.max_model_len
        while low < high:
            mid = (low + high + 1) // 2
            if self.prefill_s(mid) <= seconds:
                low = mid
            else:
                high = mid - 1
        return low

    def blocks_tokens(self, tokens: int) -> int:
        """KV tokens a request holds: whole blocks."""
        return -(-tokens // self.block_size) * self.block_size


def prefill_pairs(start: int, chunk: int) -> float:
    """(token, earlier position) pairs for prefill tokens start..start+chunk-1 (causal)."""
    return chunk * start + chunk * (chunk + 1) / 2


def build_profile(
    name: str,
    model: ModelSpec,
    gpu: GpuSpec,
    *,
    tensor_parallel: int = 1,
    gpu_memory_utilization: float = 0.9,
    activation_reserve_gb: float = 2.0,
    block_size: int = 16,
    max_num_seqs: int = 256,
    max_batched_tokens: int = 8192,
    max_model_len: int = 32_768,
    cold_start_cached_s: tuple[float, float] = (60.0, 120.0),
    cold_start_uncached_s: tuple[float, float] = (180.0, 300.0),
    gpus_per_replica: int | None = None,
) -> ReplicaProfile:
    tp = tensor_parallel
    bandwidth = tp * gpu.hbm_tb_s * 1e12 * HBM_EFFICIENCY
    compute = tp * gpu.bf16_tflops * 1e12 * (TP_COMPUTE_EFFICIENCY if tp > 1 else 1.0)
    free = gpu.memory_gb * GB * gpu_memory_utilization - model.weight_bytes / tp
    free -= activation_reserve_gb * GB
    blocks = math.floor(tp * free / model.kv_bytes_per_token / block_size)
    if blocks <= 0:
        raise ValueError(f"{model.name} does not fit on {tp} x {gpu.name}")
    return ReplicaProfile(
        name=name,
        gpus_per_replica=tp if gpus_per_replica is None else gpus_per_replica,
        step_fixed_s=STEP_OVERHEAD_S + (2 * model.layers * ALL_REDUCE_S if tp > 1 else 0.0),
        weights_s=model.weight_bytes / bandwidth,
        linear_s_per_token=2 * model.params_b * 1e9 / (compute * LINEAR_MFU),
        kv_s_per_token=model.kv_bytes_per_token / bandwidth,
        attention_s_per_pair=4 * model.layers * model.hidden / (compute * ATTENTION_MFU),
        max_num_seqs=max_num_seqs,
        max_batched_tokens=max_batched_tokens,
        kv_capacity_tokens=blocks * block_size,
        block_size=block_size,
        max_model_len=max_model_len,
        cold_start_cached_s=cold_start_cached_s,
        cold_start_uncached_s=cold_start_uncached_s,
    )
