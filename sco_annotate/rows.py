"""Model instances from rows read with plain SQL, their values converted as the ORM would.

The requests every user makes (the session's user, an API token, the document and tags an
annotation write checks) read their rows with one written-out statement each: building the
same query through the ORM costs several times what the database takes to answer it. The
values still need the ORM's conversions (SQLite gives booleans as 0 and 1, datetimes as
text), which `from_row` applies.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django.db import connection, models

M = TypeVar("M", bound=models.Model)

_Converter = tuple[list[Callable[..., Any]], Any]
_converters: dict[tuple[str, type[models.Model], tuple[str, ...]], list[_Converter]] = {}


def columns(model: type[models.Model], names: Sequence[str], alias: str = "") -> str:
    """The quoted columns of these fields (by attname), for a SELECT list."""
    fields = {field.attname: field for field in model._meta.concrete_fields}
    prefix = f"{alias}." if alias else ""
    return ", ".join(f'{prefix}"{fields[name].column}"' for name in names)


def field_names(model: type[models.Model], *names: str) -> list[str]:
    """These fields' attnames in the model's field order (all fields if none are named),
    the order `from_row` and `Model.from_db` take values in."""
    wanted = set(names)
    return [
        field.attname
        for field in model._meta.concrete_fields
        if not wanted or field.attname in wanted
    ]


def from_row(model: type[M], names: Sequence[str], row: Sequence[Any]) -> M:
    """An instance of `model` from `row`, the values of the fields `names` (attnames, in the
    model's field order: see `field_names`); the other fields load on first use."""
    key = (connection.vendor, model, tuple(names))
    converters = _converters.get(key)
    if converters is None:
        fields = {field.attname: field for field in model._meta.concrete_fields}
        converters = []
        for name in names:
            column = fields[name].get_col(model._meta.db_table)
            functions = connection.ops.get_db_converters(column) + column.get_db_converters(
                connection
            )
            converters.append((functions, column))
        _converters[key] = converters
    values = []
    for value, (functions, column) in zip(row, converters, strict=True):
        for function in functions:
            value = function(value, column, connection)
        values.append(value)
    return model.from_db(connection.alias, list(names), values)
