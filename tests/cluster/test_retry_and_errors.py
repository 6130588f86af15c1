"""Backoff bounds and the parsing of quota refusals."""

from __future__ import annotations

import random

import pytest

from control_plane.cluster.errors import Forbidden, QuotaExceeded, ServerError
from control_plane.cluster.retry import RetryPolicy, call_with_retries


def test_backoff_grows_exponentially_with_full_jitter_and_a_cap():
    policy = RetryPolicy(attempts=10, base_seconds=0.2, cap_seconds=5.0)
    rng = random.Random(1)

    delays = [[policy.delay(attempt, None, rng) for _ in range(200)] for attempt in range(8)]

    for attempt, samples in enumerate(delays):
        assert min(samples) >= 0
        assert max(samples) <= min(5.0, 0.2 * 2**attempt)
    assert max(delays[7]) > 2.5  # the cap, not the exponential, bounds late attempts


def test_retry_after_is_honoured_up_to_the_cap():
    policy = RetryPolicy(cap_seconds=5.0)
    rng = random.Random(1)

    assert policy.delay(0, 2.0, rng) == 2.0
    assert policy.delay(0, 60.0, rng) == 5.0


def test_only_retryable_errors_are_retried():
    calls = []

    def refused():
        calls.append(1)
        raise Forbidden("forbidden: no", status=403)

    with pytest.raises(Forbidden):
        call_with_retries(refused, policy=RetryPolicy(), sleep=lambda _: None, rng=random.Random())

    assert len(calls) == 1


def test_retries_stop_after_the_last_attempt():
    calls = []

    def failing():
        calls.append(1)
        raise ServerError("server_error: boom", status=500)

    with pytest.raises(ServerError):
        call_with_retries(
            failing, policy=RetryPolicy(attempts=3), sleep=lambda _: None, rng=random.Random()
        )

    assert len(calls) == 3


def test_quota_refusal_names_the_numbers():
    error = QuotaExceeded(
        'quota_exceeded: pods "p" is forbidden: exceeded quota: tenant-quota, '
        "requested: requests.cpu=8,requests.nvidia.com/gpu=2, "
        "used: requests.cpu=60,requests.nvidia.com/gpu=3, "
        "limited: requests.cpu=64,requests.nvidia.com/gpu=4"
    )

    assert error.quota_name == "tenant-quota"
    assert error.requested == {"requests.cpu": "8", "requests.nvidia.com/gpu": "2"}
    assert error.used == {"requests.cpu": "60", "requests.nvidia.com/gpu": "3"}
    assert error.limited == {"requests.cpu": "64", "requests.nvidia.com/gpu": "4"}
    assert error.quota_message.startswith("exceeded quota: tenant-quota, requested: ")
    assert not error.retryable


def test_a_quota_that_needs_requests_stated_is_a_quota_refusal():
    message = 'pods "p" is forbidden: failed quota: tenant-quota: must specify limits.cpu'

    assert QuotaExceeded.matches(message)
    assert QuotaExceeded(f"quota_exceeded: {message}").quota_name == "tenant-quota"
