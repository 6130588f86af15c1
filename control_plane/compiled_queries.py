"""Querysets of a fixed shape, compiled to SQL once per database and re-run with new parameters.

Django builds and compiles a queryset's SQL on every evaluation: for a query joining a few wide
tables (an API key with its user and platform role) that costs more CPU than PostgreSQL takes
to answer it. The queries every API request runs have one shape whatever the request, so
`CompiledQuery` compiles them once, with placeholder values, notes where each placeholder
landed in the parameters, and on each call sends the same SQL with the call's values. The rows
come back as the queryset would give them: model instances with their `select_related` objects,
or the tuples of `values_list`. See docs/decisions/0015-compiled-queries.md.

Only plain shapes are accepted (checked when compiling): no prefetch, no known related objects
(`tenant.endpoints`), no `values()` dicts, no `flat`, no slice (`sliced()` takes one), no
`select_for_update`. An argument is a string, an integer, or a list of either for `__in`: the
SQL of `pk__in=[...]` changes with the list's length, so a list is padded (with its last value
again, which `IN` does not mind) to the next power of two and each length compiled once, at most
a dozen shapes; an empty list, or one longer than `MAX_LIST_LENGTH`, goes through the ORM.

`CompiledRows` reads a compiled query by slices, as Django's paginator reads a queryset.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db import connections, router
from django.db.models import QuerySet
from django.db.models.query import ModelIterable, ValuesListIterable, get_related_populators

T = TypeVar("T")

# Placeholders must survive the fields' own preparation of a lookup's value (a CharField keeps
# a string, an IntegerField an int within its range: Django 5 turns an out-of-range integer
# lookup into an empty result without SQL), and must not equal a constant of the query.
_STRING_MARK = "\x00compiled-query-argument-{}\x00"
_INTEGER_BASE = -2_147_483_000
# A list argument's elements: distinct, so each lands in its own parameter, and within a 32-bit
# integer field's range.
_LIST_BASE = -2_000_000_000
_LIST_STRIDE = 10_000
# Longer lists run through the ORM: 2048 parameters are within SQLite's limit (32766) as well as
# PostgreSQL's (65535), and a page of the API holds at most 500 rows (settings.API_MAX_PAGE_SIZE).
MAX_LIST_LENGTH = 2048
INTEGER_LIST = list[int]
STRING_LIST = list[str]
_LISTS = {INTEGER_LIST: int, STRING_LIST: str}


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple[Any, ...]
    # (position in params, argument name, index in a list argument or None for a scalar)
    slots: tuple[tuple[int, str, int | None], ...]
    converters: tuple[tuple[int, tuple[Callable, ...], Any], ...]
    model_rows: bool
    model: Any
    init_list: tuple[str, ...]
    model_columns: slice
    related_populators: tuple[Any, ...]


class CompiledQuery(Generic[T]):
    """`build(**arguments)` makes the queryset; `query(**values)` runs it and returns its rows,
    `query.sliced(start, stop, **values)` the rows a slice of the queryset would give.

    `arguments` names each argument with its type (`str`, `int`, `INTEGER_LIST` or
    `STRING_LIST`), used to make placeholders.
    """

    def __init__(self, build: Callable[..., QuerySet], **arguments: Any) -> None:
        for name, kind in arguments.items():
            if kind not in (str, int, INTEGER_LIST, STRING_LIST):
                raise TypeError(f"argument {name!r}: only str, int and lists of them, not {kind}")
        self._build = build
        self._arguments = arguments
        self._compiled: dict[tuple[str, tuple[int, ...]], _Compiled] = {}
        self._model: Any = None

    def __call__(self, **values: Any) -> list[T]:
        return self._run(values, limit=None)

    def sliced(self, start: int, stop: int, **values: Any) -> list[T]:
        """`build(**values)[start:stop]`, with the bounds as parameters of the compiled SQL."""
        if not 0 <= start <= stop:
            raise ValueError(f"a slice from {start} to {stop}: bounds from 0, start <= stop")
        return self._run(values, limit=(start, stop))

    def queryset(self, **values: Any) -> QuerySet:
        """The queryset the compiled SQL stands for: for what it does not offer (a count)."""
        return self._build(**self._checked(values))

    def _run(self, values: dict[str, Any], *, limit: tuple[int, int] | None) -> list[T]:
        values = self._checked(values)
        lengths = tuple(
            _padded_length(len(values[name]))
            for name, kind in self._arguments.items()
            if kind in _LISTS
        )
        if any(length is None for length in lengths):
            # Empty (Django answers it without SQL, or drops the OR branch) or very long.
            queryset = self._build(**values)
            return list(queryset if limit is None else queryset[limit[0] : limit[1]])
        alias = self._alias()
        compiled = self._compiled.get((alias, lengths))
        if compiled is None:
            # A race between threads compiles twice and keeps either: both are the same.
            compiled = self._compiled[(alias, lengths)] = self._compile(alias, lengths)
        params = list(compiled.params)
        for position, name, index in compiled.slots:
            value = values[name]
            if index is not None:
                value = value[min(index, len(value) - 1)]  # padded with the last value
            params[position] = value
        sql = compiled.sql
        if limit is not None:
            # PostgreSQL and SQLite, the project's databases, both take LIMIT ... OFFSET ...
            # after the ORDER BY, where Django puts its literal bounds.
            sql = f"{sql} LIMIT %s OFFSET %s"
            params += [limit[1] - limit[0], limit[0]]
        connection = connections[alias]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        if compiled.converters:
            rows = [self._convert(row, compiled, connection) for row in rows]
        if not compiled.model_rows:
            return [tuple(row) for row in rows]
        return [self._instance(row, compiled, alias) for row in rows]

    def _checked(self, values: dict[str, Any]) -> dict[str, Any]:
        if values.keys() != self._arguments.keys():
            raise TypeError(f"expected arguments {sorted(self._arguments)}, got {sorted(values)}")
        checked = dict(values)
        for name, kind in self._arguments.items():
            value = values[name]
            if kind in _LISTS:
                item = _LISTS[kind].__name__
                if not isinstance(value, Collection) or isinstance(value, str | bytes):
                    raise TypeError(f"argument {name!r} must be a collection of {item}")
                value = checked[name] = list(value)
                if any(type(element) is not _LISTS[kind] for element in value):
                    raise TypeError(f"argument {name!r} must hold {item} only")
            elif type(value) is not kind:
                raise TypeError(f"argument {name!r} must be {kind.__name__}")
        return checked

    def _alias(self) -> str:
        # The database a read of the model goes to, as QuerySet.db says without `using()`.
        if self._model is None:
            lengths = tuple(1 for kind in self._arguments.values() if kind in _LISTS)
            self._model = self._build(**self._placeholders(lengths)).model
        return router.db_for_read(self._model)

    def _placeholders(self, lengths: tuple[int, ...]) -> dict[str, Any]:
        placeholders: dict[str, Any] = {}
        list_lengths = iter(lengths)
        for index, (name, kind) in enumerate(self._arguments.items()):
            if kind is str:
                placeholders[name] = _STRING_MARK.format(index)
            elif kind is int:
                placeholders[name] = _INTEGER_BASE - index
            elif kind is STRING_LIST:
                length = next(list_lengths)
                placeholders[name] = [_STRING_MARK.format(f"{index}-{k}") for k in range(length)]
            else:
                first = _LIST_BASE - index * _LIST_STRIDE
                placeholders[name] = [first - k for k in range(next(list_lengths))]
        return placeholders

    def _compile(self, alias: str, lengths: tuple[int, ...]) -> _Compiled:
        placeholders = self._placeholders(lengths)
        queryset = self._build(**placeholders)
        if queryset._db is not None:
            raise ValueError("a compiled query reads from the model's database: no using()")
        if queryset._prefetch_related_lookups or queryset._known_related_objects:
            raise ValueError("a compiled query cannot prefetch or hold known related objects")
        if queryset._iterable_class not in (ModelIterable, ValuesListIterable):
            raise ValueError("a compiled query gives model instances or values_list tuples")
        query = queryset.query
        if query.is_sliced or query.select_for_update or query.combinator:
            # `sliced()` appends the bounds after the whole statement.
            raise ValueError("a compiled query is not sliced, locked or combined: use sliced()")
        compiler = query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        marks = {
            (type(mark), mark): (name, index)
            for name, placeholder in placeholders.items()
            for index, mark in (
                enumerate(placeholder) if isinstance(placeholder, list) else [(None, placeholder)]
            )
        }
        slots = tuple(
            (position, *marks[(type(value), value)])
            for position, value in enumerate(params)
            if (type(value), value) in marks
        )
        missing = set(marks.values()) - {(name, index) for _, name, index in slots}
        if missing:
            names = sorted({name for name, _ in missing})
            raise ValueError(f"arguments not found in the query's parameters: {names}")
        select = compiler.select
        converters = tuple(
            (position, tuple(functions), expression)
            for position, (functions, expression) in compiler.get_converters(
                [column for column, _, _ in select]
            ).items()
        )
        if queryset._iterable_class is ValuesListIterable:
            # Django 5.2 selects values as annotations: the tuple is the row only when they
            # come in the order they were asked for, with no other column.
            if list(compiler.annotation_col_map.values()) != list(range(len(select))):
                raise ValueError("a compiled values_list returns its columns as selected")
            return _Compiled(sql, tuple(params), slots, converters, False, None, (), slice(0), ())
        klass_info = compiler.klass_info
        columns = klass_info["select_fields"]
        model_columns = slice(columns[0], columns[-1] + 1)
        if compiler.annotation_col_map:
            raise ValueError("a compiled query takes no annotations")
        return _Compiled(
            sql=sql,
            params=tuple(params),
            slots=slots,
            converters=converters,
            model_rows=True,
            model=klass_info["model"],
            init_list=tuple(column.target.attname for column, _, _ in select[model_columns]),
            model_columns=model_columns,
            related_populators=tuple(get_related_populators(klass_info, select, alias)),
        )

    @staticmethod
    def _convert(row: tuple, compiled: _Compiled, connection: Any) -> list:
        # As SQLCompiler.apply_converters, with this thread's connection.
        values = list(row)
        for position, functions, expression in compiled.converters:
            value = values[position]
            for function in functions:
                value = function(value, expression, connection)
            values[position] = value
        return values

    @staticmethod
    def _instance(row: Any, compiled: _Compiled, alias: str) -> Any:
        # As django.db.models.query.ModelIterable, for the shapes accepted above.
        instance = compiled.model.from_db(alias, compiled.init_list, row[compiled.model_columns])
        for populator in compiled.related_populators:
            populator.populate(row, instance)
        return instance


class CompiledRows(Generic[T]):
    """A compiled query's rows for some values, read by slices like a queryset (`rows[a:b]`,
    `count()`, iteration): what Django's paginator takes. `finish` gets each slice's rows (to
    load what a prefetch would) and returns them."""

    def __init__(
        self,
        query: CompiledQuery[T],
        *,
        finish: Callable[[list[T]], list[T]] | None = None,
        **values: Any,
    ) -> None:
        self._query = query
        self._finish = finish
        self._values = values

    def count(self) -> int:
        return self._query.queryset(**self._values).count()

    def __getitem__(self, bounds: slice) -> list[T]:
        if not isinstance(bounds, slice) or bounds.step is not None:
            raise TypeError("compiled rows are read by slices without a step")
        start = bounds.start or 0
        if bounds.stop is None:
            rows = self._query(**self._values)[start:]
        else:
            rows = self._query.sliced(start, bounds.stop, **self._values)
        return rows if self._finish is None else self._finish(rows)

    def __iter__(self) -> Iterator[T]:
        return iter(self[0:None])


def _padded_length(length: int) -> int | None:
    """The compiled length a list of `length` values runs with; None when it runs uncompiled."""
    if length == 0 or length > MAX_LIST_LENGTH:
        return None
    return 1 << (length - 1).bit_length()
