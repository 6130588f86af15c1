"""Small synthetic traces so the simulator tests stay fast."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from scaling.simulator.trace import Request, Trace

START = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)  # a Monday


def steady_trace(rate_per_s: float, duration_s: float, prompt: int = 500, output: int = 100):
    step = 1.0 / rate_per_s
    n = int(duration_s * rate_per_s)
    return Trace([Request(i * step, prompt, output) for i in range(n)], START)


@pytest.fixture
def small_trace() -> Trace:
    # Quiet minute, 4-minute burst near one replica's capacity x 3, quiet tail. A replica
    # serves about 7 requests/s of 2000 + 400 tokens (calibration.run_batch on the default
    # profile), so 20/s needs three.
    quiet = [Request(i * 2.0, 400, 50) for i in range(30)]
    burst = [Request(60 + i / 20, 2000, 400) for i in range(20 * 240)]
    tail = [Request(300 + i * 3.0, 400, 50) for i in range(40)]
    return Trace(quiet + burst + tail, START)
