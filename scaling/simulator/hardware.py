"""Serving parameters of one vLLM replica, per model and GPU: the one table the simulator reads.

Each figure carries its source. They are planning figures for an order-of-magnitude simulation,
not a substitute for measuring the deployed model with `vllm bench serve`.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass


@dataclass(frozen=True)
class ReplicaProfile:
    name: str
    gpus_per_replica: int
    # Prompt tokens processed per second when a step is all prefill (compute-bound).
    prefill_tokens_per_s: float
    # (batch size, decode step seconds) points; linear in between, flat beyond the last point.
    decode_step_points: tuple[tuple[int, float], ...]
    # vLLM `--max-num-seqs` (default 256) and `--max-num-batched-tokens` (chunked-prefill budget).
    max_num_seqs: int
    max_batched_tokens: int
    # KV-cache capacity in tokens across the replica's GPUs.
    kv_capacity_tokens: int
    max_model_len: int
    # Pod start to Ready: weights cached on the node vs. pulled from the registry / object store.
    cold_start_cached_s: tuple[float, float]
    cold_start_uncached_s: tuple[float, float]

    def decode_step_s(self, batch: int) -> float:
        points = self.decode_step_points
        if batch <= points[0][0]:
            return points[0][1]
        i = bisect_right([b for b, _ in points], batch)
        if i >= len(points):
            return points[-1][1]
        (b0, s0), (b1, s1) = points[i - 1], points[i]
        return s0 + (s1 - s0) * (batch - b0) / (b1 - b0)

    def decode_step_table(self) -> list[float]:
        """Step seconds indexed by batch size 0..max_num_seqs (a lookup for the hot loop)."""
        return [0.0] + [self.decode_step_s(b) for b in range(1, self.max_num_seqs + 1)]


HARDWARE: dict[str, ReplicaProfile] = {
    "llama-3.1-8b/h100-80gb": ReplicaProfile(
        name="llama-3.1-8b/h100-80gb",
        gpus_per_replica=1,
        # ~25k tok/s: 8B params x 2 FLOP/token = 16 GFLOP/token; H100 SXM BF16 dense ~990 TFLOPS
        # at ~40 % MFU gives ~25k tok/s, in line with vLLM prefill throughput reports for
        # Llama-3-8B on H100 (vLLM performance dashboard, perf.vllm.ai).
        prefill_tokens_per_s=25_000.0,
        # Decode is memory-bound: 16 GB of BF16 weights read per step at ~3.35 TB/s HBM3 is
        # ~5 ms, plus kernel/scheduler overhead -> ~6 ms at batch 1; KV reads and attention grow
        # with the batch to ~50 ms at 256 sequences (vLLM dashboard ITL at high concurrency).
        decode_step_points=((1, 0.006), (16, 0.010), (64, 0.020), (128, 0.032), (256, 0.050)),
        # vLLM engine defaults (docs.vllm.ai, EngineArgs: max_num_seqs=256; chunked prefill
        # token budget 8192 for online serving on large GPUs in the V1 engine).
        max_num_seqs=256,
        max_batched_tokens=8192,
        # Llama-3.1-8B KV per token: 32 layers x 8 KV heads x 128 dims x 2 (K,V) x 2 bytes
        # = 128 KiB. 80 GB x 0.9 gpu_memory_utilization - 16 GB weights - ~2 GB activations
        # = ~54 GiB -> ~440,000 tokens.
        kv_capacity_tokens=440_000,
        max_model_len=32_768,
        # Container start + weight load (16 GB from local disk/page cache at several GB/s) +
        # CUDA graph capture + readiness probe: 60-120 s on a warm node with cached weights;
        # 180-300 s when the image and weights are pulled first (vLLM production-stack and
        # KServe cold-start write-ups).
        cold_start_cached_s=(60.0, 120.0),
        cold_start_uncached_s=(180.0, 300.0),
    ),
}

DEFAULT_PROFILE = HARDWARE["llama-3.1-8b/h100-80gb"]
