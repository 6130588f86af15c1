"""PostgreSQL's COPY path and the ORM path (SQLite, the embedded default) write the same bytes for
the same events, and the digest's block-wise Merkle tree is RFC 6962's."""

import hashlib
import json
from datetime import UTC, datetime

import pytest
from django.db import connection

from control_plane.audit.chain import GENESIS_HASH, event_hash
from control_plane.audit.export import COLUMNS, ExportDigest, ExportSpec, encode, encode_copied
from control_plane.audit.merkle import merkle_root
from control_plane.audit.models import AuditEvent
from control_plane.audit.pg_text import jsonb_text
from control_plane.audit.selectors import audit_export_copy_batches, audit_export_rows
from tests.factories import system

pytestmark = pytest.mark.django_db

TRICKY = [
    {
        "occurred_at": datetime(2026, 3, 1, 12, 0, 0, 0, tzinfo=UTC),
        "actor": 'naïve "admin", 管理者 🚀',
        "actor_user_id": None,
        "source_address": None,
        "target_id": 'a,b "c"\\d',
        "reason": "line one\nline two\r\n\ttabbed \x01\x1f\x7f end\\",
        "changes": {},
    },
    {
        "occurred_at": datetime(2026, 3, 1, 12, 0, 0, 999999, tzinfo=UTC),
        "actor": "",
        "actor_user_id": 42,
        "source_address": "2001:db8::1",
        "target_id": "\\N",
        "reason": "",
        "changes": {
            "zeta": {"before": None, "after": [1, 2.5, 1e-07, 100000.0, True, False, "x"]},
            "a": 'é\n"quoted" \\ back\tslash \x08 /',
            "ü": {"nested": {"deeper": [[], {}, {"k": None}]}},
            "bb": 12345678901234567890,
            "ab": -7,
        },
    },
    {
        "occurred_at": datetime(2026, 3, 1, 12, 0, 1, 10, tzinfo=UTC),
        "actor": "tab\tand\\backslash",
        "actor_user_id": 7,
        "source_address": "10.1.2.3",
        "target_id": "",
        "reason": "\u2028 line separator, \U0001f600",
        "changes": {"path": "C:\\temp\\new", "note": "\\N \\t"},
    },
]
# No quote or backslash in a text value: COPY's rows go through whole chunks at once.
ESCAPED_IN_CHUNKS = [
    {
        "occurred_at": datetime(2026, 3, 2, 8, 30, 0, 123456, tzinfo=UTC),
        "actor": "ünïcödé 🚀",
        "actor_user_id": None,
        "source_address": "192.168.0.1",
        "target_id": "x",
        "reason": "line one\nline two\r\n\ttabbed \x08 \x0c form feed",
        "changes": {"text": 'say "hi"\n\\', "hash": "not the row's", "list": [{"a": "\t"}]},
    },
    {
        "occurred_at": datetime(2026, 3, 2, 8, 30, 0, 1, tzinfo=UTC),
        "actor": "a",
        "actor_user_id": 3,
        "source_address": None,
        "target_id": "y",
        "reason": "",
        "changes": {"b": 1},
    },
]
# A vertical tab and other control characters, which COPY leaves raw or writes as JSON cannot.
CONTROLS = [
    {**ESCAPED_IN_CHUNKS[1], "reason": "vertical \x0b tab"},
    {**ESCAPED_IN_CHUNKS[1], "reason": "unit \x1f separator"},
]


def _write_tricky_events(events: list[dict] = TRICKY) -> None:
    prev = GENESIS_HASH
    for sequence, tricky in enumerate(events, start=1):
        fields = {
            "chain": "tenant:tricky",
            "sequence": sequence,
            "actor_type": "user",
            "api_key_prefix": "",
            "tenant_slug": "tricky",
            "action": "test.tricky",
            "target_type": "thing",
            "request_id": "",
            "outcome": "success",
            "prev_hash": prev,
            **tricky,
        }
        prev = AuditEvent.objects.create(**fields, hash=event_hash(fields)).hash


def _spec(export_format: str) -> ExportSpec:
    return ExportSpec(
        format=export_format, until=datetime(2100, 1, 1, tzinfo=UTC), max_event_id=10**9
    )


def _copied(export_format: str) -> tuple[bytes, ExportDigest]:
    digest = ExportDigest()
    rows = audit_export_copy_batches(actor=system(), spec=_spec(export_format))
    return b"".join(encode_copied(rows, export_format, digest)), digest


def _orm(export_format: str, rows=None) -> tuple[bytes, ExportDigest]:
    digest = ExportDigest()
    if rows is None:
        rows = audit_export_rows(actor=system(), spec=_spec(export_format), chunk_size=2)
    return b"".join(encode(rows, export_format, digest)), digest


def _summary(digest: ExportDigest) -> tuple:
    return (
        digest.row_count,
        digest.first_event_id,
        digest.last_event_id,
        digest.sha256,
        digest.merkle_root,
    )


@pytest.mark.parametrize("events", [TRICKY, ESCAPED_IN_CHUNKS, CONTROLS])
@pytest.mark.parametrize("export_format", ["csv", "jsonl"])
def test_copy_and_the_orm_write_the_same_bytes_for_tricky_events(export_format, events):
    _write_tricky_events(events)
    copied, copied_digest = _copied(export_format)
    orm, orm_digest = _orm(export_format)
    assert copied == orm
    assert _summary(copied_digest) == _summary(orm_digest)
    assert copied_digest.row_count == len(events)


# One awkward value at a time, each in its own column, among plain events: a chunk of COPY's rows
# then holds a few values to escape in one or two columns and many that need nothing.
AWKWARD = [
    {"actor": 'say "hi"'},
    {"target_id": "back\\slash"},
    {"reason": "new\nline and \ttab"},
    {"request_id": "bell \x07 and DEL \x7f"},
    {"action": "vertical\x0btab"},
    {"target_type": "\\N"},
    {"api_key_prefix": "null"},
    {"actor": "管理者 🚀 \u2028"},
    {"reason": '\\"\\\\"'},
    {"changes": {"q": 'a "quoted" \\ value', "n": {"deeper": [None, 1.5, "\t", {}]}}},
    {"changes": {"k\\ey": "\x01", "": None}},
    {"source_address": None, "actor_user_id": None},
    {"source_address": "::ffff:10.0.0.1", "actor_user_id": 0},
    {"reason": "", "actor": "", "target_id": ""},
]


def _plain(index: int) -> dict:
    return {
        "occurred_at": datetime(2026, 3, 3, 0, 0, 0, index, tzinfo=UTC),
        "actor": f"user{index % 7}",
        "actor_user_id": index,
        "source_address": "10.0.0.1",
        "target_id": str(index),
        "reason": "",
        "changes": {"replicas": {"before": index % 3, "after": index % 5}},
    }


def test_jsonl_lines_are_json_dumps_of_each_event_among_plain_ones_in_many_chunks():
    events = [_plain(index) for index in range(700)]
    for position, awkward in enumerate(AWKWARD):
        index = position * 47 + position % 3  # spread over the chunks
        events[index] = {**events[index], **awkward}
    _write_tricky_events(events)

    copied, copied_digest = _copied("jsonl")
    orm, orm_digest = _orm("jsonl")

    assert copied == orm
    assert _summary(copied_digest) == _summary(orm_digest)
    lines = copied.split(b"\n")[:-1]
    assert len(lines) == len(events)
    for line, event in zip(lines, AuditEvent.objects.order_by("id"), strict=True):
        fields = {name: getattr(event, name) for name in COLUMNS}
        fields["occurred_at"] = event.occurred_at.isoformat(timespec="microseconds")
        expected = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
        changes = json.dumps(event.changes, ensure_ascii=False, separators=(",", ":"))
        # `changes` as jsonb writes it; every other value as json.dumps does.
        assert line.decode() == expected.replace(
            f'"changes":{changes}', f'"changes":{jsonb_text(event.changes)}'
        )


def test_jsonl_rows_are_compact_objects_that_give_back_every_stored_value():
    _write_tricky_events()
    copied, _ = _copied("jsonl")
    lines = copied.decode().split("\n")[:-1]  # not splitlines: U+2028 is inside a line
    assert lines[0].startswith('{"id":')
    assert '"occurred_at":"2026-03-01T12:00:00.000000+00:00","chain":"tenant:tricky"' in lines[0]
    for line, event in zip(lines, AuditEvent.objects.order_by("id"), strict=True):
        row = json.loads(line)
        assert list(row) == list(COLUMNS)
        for name in COLUMNS:
            stored = getattr(event, name)
            if name == "occurred_at":
                stored = stored.isoformat(timespec="microseconds")
            assert row[name] == stored, name


@pytest.mark.parametrize("export_format", ["csv", "jsonl"])
def test_sqlites_stored_json_text_encodes_as_postgresql_writes_it(export_format):
    """On SQLite `changes` is the text Django stored (json.dumps: ASCII escapes, keys in the
    order given); the export rewrites it as jsonb's text."""
    _write_tricky_events()
    rows = [
        (*row[:14], json.dumps(AuditEvent.objects.get(pk=row[0]).changes), *row[15:])
        for row in audit_export_rows(actor=system(), spec=_spec(export_format), chunk_size=10)
    ]
    assert "\\u00e9" in rows[1][14]
    assert _orm(export_format, rows)[0] == _copied(export_format)[0]


@pytest.mark.parametrize(
    "value",
    [
        {"b": 1, "aa": 2, "a": 3, "é": 4, "z": 5, "ab": {"y": [1, {"x": None}]}},
        [1.0, 1e-07, 2.5e-05, 100000.0, 0.1, -3.75, 10**20, True, False, None],
        'quote " backslash \\ newline \n tab \t controls \x01\x1f\x7f \u2028 é 🚀',
        {"": [], "empty": {}},
    ],
)
def test_jsonb_text_is_postgresqls_own(value):
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::jsonb::text", [json.dumps(value)])
        assert jsonb_text(value) == cursor.fetchone()[0]


@pytest.mark.parametrize("size", [0, 1, 2, 255, 256, 257, 511, 512, 513, 1000, 1537])
def test_the_digests_merkle_root_is_rfc_6962s_at_block_edges(size):
    leaves = [hashlib.sha256(str(i).encode()).digest() for i in range(size)]
    digest, start, step = ExportDigest(), 0, 1
    while start < size:
        part = leaves[start : start + step]
        digest.add_events(start, start + len(part) - 1, [leaf.hex().encode() for leaf in part])
        start, step = start + len(part), step * 3 % 301 + 1
    assert digest.merkle_root == merkle_root(leaves)
    assert digest.row_count == size


def test_a_stored_hash_that_is_not_hex_is_the_verifiers_empty_leaf():
    good = hashlib.sha256(b"good").digest()
    digest = ExportDigest()
    digest.add_events(1, 3, [good.hex().encode(), b"not a hash", good.hex().upper().encode()])
    assert digest.merkle_root == merkle_root([good, b"", b""])
