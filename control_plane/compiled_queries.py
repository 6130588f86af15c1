"""Querysets of a fixed shape, compiled to SQL once per database and re-run with new parameters.

Django builds and compiles a queryset's SQL on every evaluation: for a query joining a few wide
tables (an API key with its user and platform role) that costs more CPU than PostgreSQL takes
to answer it. The queries every API request runs have one shape whatever the request, so
`CompiledQuery` compiles them once, with placeholder values, notes where each placeholder
landed in the parameters, and on each call sends the same SQL with the call's values. The rows
come back as the queryset would give them: model instances with their `select_related` objects,
or the tuples of `values_list`. See docs/decisions/0015-compiled-queries.md.

Only plain shapes are accepted (checked when compiling): no prefetch, no known related objects
(`tenant.endpoints`), no `values()` dicts, no `flat`; each argument must be a scalar compared
once or more, never a list (`pk__in=[...]` changes the SQL with the list's length).
"""

from __future__ import annotations

from collections.abc import Callable
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


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple[Any, ...]
    slots: tuple[tuple[int, str], ...]  # (position in params, argument name)
    converters: tuple[tuple[int, tuple[Callable, ...], Any], ...]
    model_rows: bool
    model: Any
    init_list: tuple[str, ...]
    model_columns: slice
    related_populators: tuple[Any, ...]


class CompiledQuery(Generic[T]):
    """`build(**arguments)` makes the queryset; `query(**values)` runs it and returns its rows.

    `arguments` names each argument with its type (`str` or `int`), used to make placeholders.
    """

    def __init__(self, build: Callable[..., QuerySet], **arguments: type) -> None:
        for name, kind in arguments.items():
            if kind not in (str, int):
                raise TypeError(f"argument {name!r}: only str and int arguments, not {kind}")
        self._build = build
        self._arguments = arguments
        self._by_alias: dict[str, _Compiled] = {}
        self._model: Any = None

    def __call__(self, **values: Any) -> list[T]:
        if values.keys() != self._arguments.keys():
            raise TypeError(f"expected arguments {sorted(self._arguments)}, got {sorted(values)}")
        alias = self._alias()
        compiled = self._by_alias.get(alias)
        if compiled is None:
            # A race between threads compiles twice and keeps either: both are the same.
            compiled = self._by_alias[alias] = self._compile(alias)
        params = list(compiled.params)
        for position, name in compiled.slots:
            value = values[name]
            if type(value) is not self._arguments[name]:
                raise TypeError(f"argument {name!r} must be {self._arguments[name].__name__}")
            params[position] = value
        connection = connections[alias]
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        if compiled.converters:
            rows = [self._convert(row, compiled, connection) for row in rows]
        if not compiled.model_rows:
            return [tuple(row) for row in rows]
        return [self._instance(row, compiled, alias) for row in rows]

    def _alias(self) -> str:
        # The database a read of the model goes to, as QuerySet.db says without `using()`.
        if self._model is None:
            self._model = self._build(**self._placeholders()).model
        return router.db_for_read(self._model)

    def _placeholders(self) -> dict[str, Any]:
        return {
            name: _STRING_MARK.format(index) if kind is str else _INTEGER_BASE - index
            for index, (name, kind) in enumerate(self._arguments.items())
        }

    def _compile(self, alias: str) -> _Compiled:
        placeholders = self._placeholders()
        queryset = self._build(**placeholders)
        if queryset._db is not None:
            raise ValueError("a compiled query reads from the model's database: no using()")
        if queryset._prefetch_related_lookups or queryset._known_related_objects:
            raise ValueError("a compiled query cannot prefetch or hold known related objects")
        if queryset._iterable_class not in (ModelIterable, ValuesListIterable):
            raise ValueError("a compiled query gives model instances or values_list tuples")
        compiler = queryset.query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        slots = tuple(
            (position, name)
            for position, value in enumerate(params)
            for name, placeholder in placeholders.items()
            if type(value) is type(placeholder) and value == placeholder
        )
        missing = set(placeholders) - {name for _, name in slots}
        if missing:
            raise ValueError(f"arguments not found in the query's parameters: {sorted(missing)}")
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
