from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Max, OuterRef, QuerySet, Subquery, TextField
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast
from django.utils import timezone

from control_plane.audit.copy_out import copied_batches
from control_plane.audit.export import COLUMNS, COPY_BATCH_BYTES, ExportSpec, jsonl_copy_values
from control_plane.audit.models import AuditChainHead, AuditEvent
from control_plane.auth.principal import Principal
from control_plane.compiled_queries import STRING_LIST, CompiledQuery, CompiledRows
from control_plane.errors import NotFound


def audit_events_visible_to(*, actor: Principal) -> QuerySet[AuditEvent]:
    return _within(AuditEvent.objects.all(), tenant_slugs=_scope_of(actor))


def _scope_of(actor: Principal) -> frozenset[str] | None:
    """Auditors and platform admins see every chain (None); tenant admins see their tenants'."""
    return None if actor.reads_all_tenants else actor.administered_tenant_slugs


def _within(
    events: QuerySet[AuditEvent], *, tenant_slugs: Collection[str] | None
) -> QuerySet[AuditEvent]:
    return events if tenant_slugs is None else events.filter(tenant_slug__in=tenant_slugs)


# The audit list's exact-match filters, by model field. Each set of them given, for each kind of
# scope, is one compiled shape: at most 32.
AUDIT_EXACT_FILTER_FIELDS = frozenset({"tenant_slug", "action", "actor", "outcome"})
_EVENTS_MATCHING: dict[tuple[bool, tuple[str, ...]], CompiledQuery[AuditEvent]] = {}


def audit_events_matching(
    *, actor: Principal, exact: Mapping[str, str]
) -> CompiledRows[AuditEvent]:
    """`audit_events_visible_to(actor=actor).filter(**exact)`, newest first, read through a
    compiled query (control_plane/compiled_queries.py): building and compiling the list's
    queryset was a fifth of a read benchmark's CPU (docs/benchmarks/api.md)."""
    fields = tuple(sorted(exact))
    if unknown := set(fields) - AUDIT_EXACT_FILTER_FIELDS:
        raise ValueError(f"no compiled audit filter on {sorted(unknown)}")
    tenant_slugs = _scope_of(actor)
    shape = (tenant_slugs is None, fields)
    query = _EVENTS_MATCHING.get(shape)
    if query is None:
        query = _EVENTS_MATCHING[shape] = _events_matching(every_chain=shape[0], fields=fields)
    values: dict[str, Any] = {name: str(value) for name, value in exact.items()}  # enum members
    if tenant_slugs is not None:
        values["tenant_slugs"] = sorted(tenant_slugs)
    return CompiledRows(query, **values)


def _events_matching(*, every_chain: bool, fields: tuple[str, ...]) -> CompiledQuery[AuditEvent]:
    arguments: dict[str, Any] = dict.fromkeys(fields, str)
    if not every_chain:
        arguments["tenant_slugs"] = STRING_LIST

    def build(**values: Any) -> QuerySet[AuditEvent]:
        events = AuditEvent.objects.filter(**{name: values[name] for name in fields})
        return _within(events, tenant_slugs=None if every_chain else values["tenant_slugs"])

    return CompiledQuery(build, **arguments)


def _export_scope(*, actor: Principal, tenant: str | None) -> QuerySet[AuditEvent]:
    """The caller's events, of one tenant if named. A tenant the caller may not export answers
    404 (as any object of another tenant), even if it has events."""
    events = audit_events_visible_to(actor=actor)
    if tenant is None:
        return events
    events = events.filter(tenant_slug=tenant)
    if not actor.reads_all_tenants and tenant not in actor.administered_tenant_slugs:
        raise NotFound(f"No tenant {tenant!r} whose audit trail you may export.", field="tenant")
    return events


def export_pins() -> tuple[datetime, int]:
    """(now, the largest event id): the bounds that make an export repeatable."""
    largest = AuditEvent.objects.aggregate(largest=Max("id"))["largest"] or 0
    return timezone.now(), largest


def _export_events(*, actor: Principal, spec: ExportSpec) -> QuerySet[AuditEvent]:
    """The events an export holds, by id. Within a chain, id order is sequence order: ids are
    drawn while the chain head is locked."""
    events = _export_scope(actor=actor, tenant=spec.tenant).filter(
        id__lte=spec.max_event_id, occurred_at__lt=spec.until
    )
    if spec.since is not None:
        events = events.filter(occurred_at__gte=spec.since)
    for name in ("action", "actor", "outcome"):
        value = getattr(spec, name)
        if value is not None:
            events = events.filter(**{name: value})
    return events.order_by("id")


def audit_export_rows(*, actor: Principal, spec: ExportSpec, chunk_size: int) -> Iterator[tuple]:
    """The export's rows as tuples in `COLUMNS` order through a server-side cursor; `changes`
    is JSON text. Any database; PostgreSQL uses `audit_export_copy_batches`."""
    events = _export_events(actor=actor, spec=spec)
    # `changes` as the database's own JSON text: decoding and encoding it again in Python was a
    # fifth of the export's time, and the text is as deterministic as the row.
    columns = [name if name != "changes" else "changes_text" for name in COLUMNS]
    return (
        events.annotate(changes_text=Cast("changes", output_field=TextField()))
        .values_list(*columns)
        .iterator(chunk_size=chunk_size)
    )


def chain_heads_at(*, actor: Principal, tenant: str | None, max_event_id: int) -> dict[str, dict]:
    """{chain: {"sequence", "hash"}} of the caller's chains as they stood at `max_event_id`.

    A probe of the (chain, sequence) index a chain, read backwards past the events after the
    pin, rather than a GROUP BY over the whole table (0.4-1 s at 1,000,000 events).
    AuditChainHead lists every chain: its row is written with the chain's first event
    (services.record) and never deleted. A chain's events all have its tenant (chain_of), so
    the caller's scope applies to each chain's last event."""
    last_events = AuditEvent.objects.filter(chain=OuterRef("chain"), id__lte=max_event_id)
    last_ids = AuditChainHead.objects.annotate(
        last_id=Subquery(last_events.order_by("-sequence").values("id")[:1])
    ).values("last_id")
    rows = (
        _export_scope(actor=actor, tenant=tenant)
        .filter(id__in=last_ids)
        .order_by()
        .values_list("chain", "sequence", "hash")
    )
    return {chain: {"sequence": sequence, "hash": hash_} for chain, sequence, hash_ in sorted(rows)}


# Python's isoformat(timespec="microseconds") of a UTC time, which the event hash covers.
_OCCURRED_TEXT = (
    """to_char("audit_auditevent"."occurred_at" AT TIME ZONE 'UTC', """
    """'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')"""
)


def _copy_statement(events: QuerySet[AuditEvent], export_format: str) -> tuple[str, list]:
    if export_format == "csv":
        columns = ["occurred_text" if name == "occurred_at" else name for name in COLUMNS]
        query = events.annotate(occurred_text=RawSQL(_OCCURRED_TEXT, ())).values_list(*columns)
        sql, params = query.query.sql_with_params()
        return f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", list(params)
    # JSON Lines: the values in COPY's text format, which Python puts the JSON around.
    table = '"audit_auditevent"'
    values = {name: f"{table}.{name}" for name in COLUMNS}
    values["occurred_at"] = _OCCURRED_TEXT
    # abbrev: inet's own text (json_build_object's), without the /32 that ::text adds.
    values["source_address"] = f"abbrev({table}.source_address)"
    columns = {f"jsonl_{i}": RawSQL(sql, ()) for i, sql in enumerate(jsonl_copy_values(values))}
    query = events.annotate(**columns).values_list(*columns)
    sql, params = query.query.sql_with_params()
    return f"COPY ({sql}) TO STDOUT", list(params)


def audit_export_copy_batches(*, actor: Principal, spec: ExportSpec) -> Iterator[list[bytes]]:
    """The export's rows formatted by PostgreSQL (`COPY ... TO STDOUT`), in batches of about
    `COPY_BATCH_BYTES`, one bytes-like row per COPY message: CSV lines, or the values of a JSON
    Lines row in COPY's text format (export.jsonl_copy_values). The scope is checked now (404
    before the first byte); the rows are read as they are consumed."""
    statement, params = _copy_statement(_export_events(actor=actor, spec=spec), spec.format)

    def batches() -> Iterator[list[bytes]]:
        with connection.cursor() as cursor, cursor.cursor.copy(statement, params):
            yield from copied_batches(cursor.cursor.connection, COPY_BATCH_BYTES)

    return batches()
