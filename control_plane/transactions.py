"""Running a write service's transaction again when PostgreSQL gives up on it.

Write services take their locks in one order (docs/decisions/0006-lock-order.md), so two writes
of one tenant should not deadlock. What PostgreSQL can still refuse, a deadlock through a lock we
did not foresee (SQLSTATE 40P01) or a serialization failure (40001), rolled the whole transaction
back: running it again from the start is safe and is what PostgreSQL's documentation asks of the
client (https://www.postgresql.org/docs/current/mvcc-serialization-failure-handling.html).

Services decorated with `retry_on_conflict` must therefore read the state they change inside
their transaction, never mutate their arguments before it commits, and have no side effect
outside the database but `transaction.on_commit` hooks.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.db import DatabaseError, connection

from control_plane.errors import Unavailable

logger = logging.getLogger(__name__)

RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})
ATTEMPTS = 5

P = ParamSpec("P")
R = TypeVar("R")


def sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE of a database error, looking through Django's wrapper to psycopg's."""
    for candidate in (error, error.__cause__):
        state = getattr(candidate, "sqlstate", None)
        if state:
            return state
    return None


def retry_on_conflict(service: Callable[P, R]) -> Callable[P, R]:
    """Run `service` again (up to ATTEMPTS times, with jittered backoff) when its transaction
    is aborted as a deadlock victim or a serialization failure; then answer 503, never 500.

    Inside an outer transaction nothing is retried: the outer block is what was rolled back,
    and only its owner can run it again.
    """

    @functools.wraps(service)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        if connection.in_atomic_block:
            return service(*args, **kwargs)
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return service(*args, **kwargs)
            except DatabaseError as error:
                state = sqlstate(error)
                if state not in RETRYABLE_SQLSTATES:
                    raise
                logger.warning(
                    "%s: transaction aborted (SQLSTATE %s), attempt %d of %d: %s",
                    service.__qualname__,
                    state,
                    attempt,
                    ATTEMPTS,
                    error,
                )
                if attempt == ATTEMPTS:
                    raise Unavailable(
                        "The database aborted this change repeatedly because of concurrent "
                        "changes to the same objects; nothing was changed. Retry the request.",
                        retry_after=1,
                    ) from error
                time.sleep(random.uniform(0, 0.02 * 2**attempt))
        raise AssertionError("unreachable")

    return run
