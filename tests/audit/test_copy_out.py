"""Rows of a COPY read from libpq directly: all of them, in order, in batches; a COPY that fails
part way raises PostgreSQL's error and leaves the connection usable."""

import hashlib
from collections.abc import Iterator

import psycopg
import pytest
from django.db import connection, transaction

from control_plane.audit.copy_out import copied_batches
from control_plane.audit.merkle import small_sha256

pytestmark = pytest.mark.django_db


def _copy(statement: str, batch_bytes: int) -> list[list[bytes]]:
    with connection.cursor() as cursor, cursor.cursor.copy(statement):
        return [
            [bytes(row) for row in batch]
            for batch in copied_batches(cursor.cursor.connection, batch_bytes)
        ]


def test_every_row_comes_in_order_in_batches_of_about_the_size_asked():
    batches = _copy(
        "COPY (SELECT g, repeat('x', g % 50) FROM generate_series(1, 5000) g) TO STDOUT", 4096
    )

    rows = [row for batch in batches if batch for row in batch]
    assert rows == [f"{g}\t{'x' * (g % 50)}\n".encode() for g in range(1, 5001)]
    assert len(batches) > 10
    assert all(sum(map(len, batch)) < 4096 + 100 for batch in batches)


def test_a_copy_that_fails_part_way_raises_and_the_connection_goes_on():
    with pytest.raises(psycopg.errors.DivisionByZero), transaction.atomic():
        _copy("COPY (SELECT 1 / (3000 - g) FROM generate_series(1, 5000) g) TO STDOUT", 1024)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_an_empty_copy_gives_no_batch():
    assert _copy("COPY (SELECT 1 WHERE false) TO STDOUT", 1024) == []


@pytest.mark.parametrize("data", [b"", b"\x00" + bytes(32), b"\x01" + bytes(range(64)), b"x" * 200])
def test_the_small_input_sha256_is_sha256(data):
    assert small_sha256(data).digest() == hashlib.sha256(data).digest()


def _streamed(statement: str) -> Iterator[list[bytes]]:
    """As the export streams: the copy opened and closed inside the generator."""
    with connection.cursor() as cursor, cursor.cursor.copy(statement):
        yield from copied_batches(cursor.cursor.connection, 1024)


def test_a_reader_that_stops_early_leaves_the_connection_usable():
    """A client that disconnects mid-export closes the generator: psycopg cancels the copy."""
    with transaction.atomic():
        batches = _streamed("COPY (SELECT g FROM generate_series(1, 200000) g) TO STDOUT")
        assert bytes(next(batches)[0]) == b"1\n"
        batches.close()
        transaction.set_rollback(True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
