"""Reading the rows of a `COPY ... TO STDOUT` from libpq directly, a batch at a time.

psycopg's `for row in copy` runs its wait machinery (a generator and a wait call) for every row
COPY sends (a message a row), and the export's loop then handled each row once more: 2.4 µs a
row of the 1,000,000 of an export against about 1.3 here, on the development machine. The
export's Python process, not PostgreSQL, sets its pace, so a row's cost is the export's. The
calls are psycopg's documented libpq wrapper (`psycopg.pq.PGconn`,
https://www.psycopg.org/psycopg3/docs/api/pq.html), and the end of the copy is read as
psycopg's own `copy_from` generator reads it.
"""

from __future__ import annotations

import selectors
from collections.abc import Iterator

import psycopg
from psycopg import errors, pq


def copied_batches(connection: psycopg.Connection, batch_bytes: int) -> Iterator[list[bytes]]:
    """The rows of the COPY TO STDOUT in progress on `connection` (inside `cursor.copy(...)`),
    in batches of about `batch_bytes`, read as they arrive; then the copy's result, an error
    raised. A row is a bytes-like buffer (libpq's, not copied), one COPY message."""
    pgconn = connection.pgconn
    get_copy_data = pgconn.get_copy_data
    batch: list = []
    size = 0
    with selectors.DefaultSelector() as readable:
        readable.register(pgconn.socket, selectors.EVENT_READ)
        while True:
            length, row = get_copy_data(1)  # without blocking: 0 while nothing has arrived
            if length > 0:
                batch.append(row)
                size += length
                if size >= batch_bytes:
                    yield batch
                    batch, size = [], 0
            elif length == 0:
                readable.select()
                pgconn.consume_input()
            else:  # -1: the copy is over
                break
    if batch:
        yield batch
    result = pgconn.get_result()
    while pgconn.get_result() is not None:
        pass
    if result is None:
        raise psycopg.OperationalError("the COPY ended without a result")
    if result.status != pq.ExecStatus.COMMAND_OK:
        raise errors.error_from_result(result, encoding=connection.info.encoding)
