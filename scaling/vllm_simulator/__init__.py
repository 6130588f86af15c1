"""A vLLM-compatible simulator: OpenAI-style completions and vLLM's metrics, no model weights."""

from scaling.vllm_simulator.config import (
    DEFAULT_MODEL,
    RUNTIME_FIELDS,
    ConfigError,
    SimulatorConfig,
)
from scaling.vllm_simulator.server import VllmSimulator

__all__ = ["DEFAULT_MODEL", "RUNTIME_FIELDS", "ConfigError", "SimulatorConfig", "VllmSimulator"]
