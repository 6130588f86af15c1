"""Validation of model version specs: sources, engine arguments, accelerator needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from control_plane.errors import ValidationFailed
from endpoints.models import ENGINE_ARGUMENTS, ModelVersion
from tenants.models import MIG_PROFILES

DTYPES = ("auto", "half", "float16", "bfloat16", "float", "float32")
QUANTIZATIONS = ("awq", "gptq", "fp8", "bitsandbytes", "gguf", "compressed-tensors", "marlin")


@dataclass(frozen=True)
class ModelVersionSpec:
    name: str
    version: str
    source: str
    image: str
    hf_repo: str = ""
    hf_revision: str = ""
    uri: str = ""
    engine_args: dict[str, Any] = field(default_factory=dict)
    gpus_per_replica: int = 0
    mig_profile: str = ""
    cpu_millicores: int = 4000
    memory_bytes: int = 32 * 2**30
    expected_load_seconds: int = 120

    def as_fields(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def _fail(field_name: str, reason: str) -> None:
    raise ValidationFailed(reason, field=field_name)


def validate_engine_args(args: dict[str, Any], *, gpus_per_replica: int, mig_profile: str) -> None:
    for name, value in args.items():
        if name not in ENGINE_ARGUMENTS:
            _fail(
                "engine_args",
                f"unknown engine argument {name!r}; allowed: {', '.join(sorted(ENGINE_ARGUMENTS))}",
            )
        expected = ENGINE_ARGUMENTS[name][1]
        if expected is bool:
            valid = isinstance(value, bool)
        else:
            accepted = (int, float) if expected is float else (expected,)
            valid = isinstance(value, accepted) and not isinstance(value, bool)
        if not valid:
            _fail(f"engine_args.{name}", f"must be of type {expected.__name__}")
    for name in ("max_model_len", "max_num_seqs", "max_num_batched_tokens", "tensor_parallel_size"):
        if name in args and args[name] < 1:
            _fail(f"engine_args.{name}", "must be at least 1")
    utilization = args.get("gpu_memory_utilization")
    if utilization is not None and not 0 < utilization <= 1:
        _fail("engine_args.gpu_memory_utilization", "must be in (0, 1]")
    if "dtype" in args and args["dtype"] not in DTYPES:
        _fail("engine_args.dtype", f"must be one of {', '.join(DTYPES)}")
    if "quantization" in args and args["quantization"] not in QUANTIZATIONS:
        _fail("engine_args.quantization", f"must be one of {', '.join(QUANTIZATIONS)}")
    gpus = gpus_per_replica if not mig_profile else 1
    if args.get("tensor_parallel_size", gpus) != gpus:
        _fail(
            "engine_args.tensor_parallel_size",
            f"must equal the GPUs per replica ({gpus}); a MIG slice is one device",
        )
    batched, seqs = args.get("max_num_batched_tokens"), args.get("max_num_seqs")
    if batched is not None and seqs is not None and batched < seqs:
        _fail("engine_args.max_num_batched_tokens", "must be at least max_num_seqs")


def validate_spec(spec: ModelVersionSpec) -> None:
    if spec.source not in ModelVersion.Source.values:
        _fail("source", f"must be one of {', '.join(ModelVersion.Source.values)}")
    if spec.source == ModelVersion.Source.HUGGING_FACE:
        if "/" not in spec.hf_repo or spec.hf_repo.startswith("/"):
            _fail("hf_repo", "must be a Hugging Face repo id like 'org/model'")
        if spec.uri:
            _fail("uri", "must be empty for a Hugging Face source")
    else:
        scheme = f"{spec.source}://"
        if not spec.uri.startswith(scheme) or len(spec.uri) <= len(scheme):
            _fail("uri", f"must start with {scheme} for a {spec.source} source")
        if spec.hf_repo or spec.hf_revision:
            _fail("hf_repo", f"must be empty for a {spec.source} source")
    if not spec.image.strip() or any(c.isspace() for c in spec.image):
        _fail("image", "must be a container image reference")
    if spec.mig_profile:
        if spec.mig_profile not in MIG_PROFILES:
            _fail("mig_profile", f"must be one of {', '.join(MIG_PROFILES)}")
        if spec.gpus_per_replica:
            _fail("gpus_per_replica", "must be 0 when a MIG profile is set")
    elif not 1 <= spec.gpus_per_replica <= 16:
        _fail("gpus_per_replica", "must be 1–16, or set a MIG profile instead")
    if not 1 <= spec.expected_load_seconds <= 3600:
        _fail("expected_load_seconds", "must be 1–3600")
    if spec.cpu_millicores < 100:
        _fail("cpu", "must be at least 100m")
    if spec.memory_bytes < 2**30:
        _fail("memory", "must be at least 1Gi")
    validate_engine_args(
        spec.engine_args, gpus_per_replica=spec.gpus_per_replica, mig_profile=spec.mig_profile
    )
