"""Bounded retries with exponential backoff and full jitter, for transient errors only.

Full jitter (a random delay between 0 and the exponential bound) spreads the retries of many
workers that failed together, e.g. after an API server restart; see
https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from control_plane.cluster.errors import ClusterError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base_seconds: float = 0.2
    cap_seconds: float = 5.0

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait after failed attempt number `attempt` (0-based)."""
        jittered = rng.uniform(0, min(self.cap_seconds, self.base_seconds * 2**attempt))
        if retry_after is not None:
            # The server knows when it will take work again (429 from API Priority and Fairness
            # sends Retry-After); waiting less only earns another 429.
            return min(self.cap_seconds, max(retry_after, jittered))
        return jittered


def call_with_retries(
    operation: Callable[[], T],
    *,
    policy: RetryPolicy,
    sleep: Callable[[float], object],
    rng: random.Random,
) -> T:
    attempt = 0
    while True:
        try:
            return operation()
        except ClusterError as error:
            if not error.retryable or attempt + 1 >= policy.attempts:
                raise
            sleep(policy.delay(attempt, error.retry_after, rng))
            attempt += 1
