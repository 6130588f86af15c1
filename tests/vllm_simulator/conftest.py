"""Simulators started for a test and stopped after it."""

from __future__ import annotations

from typing import Any

import pytest

from scaling.vllm_simulator import SimulatorConfig, VllmSimulator
from tests.vllm_simulator.helpers import FAST


@pytest.fixture
def start():
    started: list[VllmSimulator] = []

    def start_simulator(**fields: Any) -> VllmSimulator:
        simulator = VllmSimulator(SimulatorConfig(**{**FAST, **fields}))
        simulator.start()
        started.append(simulator)
        return simulator

    yield start_simulator
    for simulator in started:
        simulator.stop()


@pytest.fixture
def sim(start) -> VllmSimulator:
    return start()
