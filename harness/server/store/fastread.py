"""Hot reads on SQLite straight through the DB-API cursor, with SQLAlchemy's result objects.

A prebuilt ``SELECT`` executed through SQLAlchemy's ``Connection.execute`` on the on-loop SQLite
connection cost 64-73 us of CPU, of which SQLite itself needs ~15: the rest is SQLAlchemy's
execution context (cache lookup, parameter construction, cursor and result set-up). The PDS
record read, the EPS issues read and the MESH inbox page run on most requests of the national
mix, so this path runs such statements itself (measured: 72.6 against 16.9 us for the PDS read,
result object included). No library offers this, so it is written here, narrowly:

- Only statements marked with :func:`fast_read` take it, and only when their compiled form needs
  nothing SQLAlchemy would add at execution: a ``SELECT`` without expanding (``IN``) parameters,
  no bind or result processors for any type (SQLite stores these columns as they are), and
  positional parameters. Anything else runs through SQLAlchemy as before; the check is made once
  per statement, on first use.
- SQL text and parameter order come from SQLAlchemy's own compiler for the SQLite dialect, and the
  rows come back as SQLAlchemy's :class:`~sqlalchemy.engine.Result` (``first``, ``all``,
  ``scalars``, ``mappings``, attribute access), so callers cannot tell the paths apart.
- Database errors are raised as SQLAlchemy's ``OperationalError``/``DBAPIError``, as the store's
  callers expect (a locked or missing database becomes a 503, see ``Store.connect``).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.engine.result import IteratorResult, SimpleResultMetaData
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.selectable import Select

S = TypeVar("S", bound=Executable)

_MARKED: dict[int, Executable] = {}  # id -> the statement (kept alive, so ids stay unique)
_PLANS: dict[int, _Plan | None] = {}  # id -> how to run it, or None: through SQLAlchemy
_MISSING: Any = object()


def fast_read(statement: S) -> S:
    """Mark a prebuilt ``SELECT`` (a module-level constant) for the direct path; returns it."""
    _MARKED[id(statement)] = statement
    return statement


@dataclass(slots=True)
class _Plan:
    sql: str
    names: tuple[str, ...]  # the parameter at each position
    fixed: dict[str, Any]  # values bound in the statement itself
    # The result's keys, from the first execution's cursor description: SQLite names each
    # column as SQLAlchemy's result does (``count(*) AS count_1`` -> ``count_1``).
    metadata: SimpleResultMetaData | None = None


def _plan(statement: Executable, dialect: Dialect) -> _Plan | None:
    if not isinstance(statement, Select):
        return None
    compiled = statement.compile(dialect=dialect)
    binds = compiled.binds
    if (
        compiled.positiontup is None
        or any(bind.expanding for bind in binds.values())
        or any(bind.type.dialect_impl(dialect).bind_processor(dialect) for bind in binds.values())
        or any(
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in statement.selected_columns
        )
    ):
        return None
    names = tuple(compiled.positiontup)
    fixed = {name: binds[name].value for name in names if not binds[name].required}
    return _Plan(compiled.string, names, fixed)


def execute_fast(
    conn: Connection, statement: Executable, parameters: dict[str, Any] | None
) -> IteratorResult[Any] | None:
    """Run a marked statement directly; ``None`` when it must go through SQLAlchemy."""
    key = id(statement)
    if key not in _MARKED:
        return None
    plan = _PLANS.get(key, _MISSING)
    if plan is _MISSING:
        plan = _PLANS[key] = _plan(statement, conn.dialect)
    if plan is None or not isinstance(parameters, dict):
        return None
    assert isinstance(plan, _Plan)
    try:
        values = [parameters[n] if n in parameters else plan.fixed[n] for n in plan.names]
    except KeyError:
        return None  # a parameter missing: SQLAlchemy raises its own error for that
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    try:
        cursor = dbapi.cursor()
        try:
            cursor.execute(plan.sql, values)
            rows = cursor.fetchall()
            if plan.metadata is None:
                plan.metadata = SimpleResultMetaData([d[0] for d in cursor.description])
        finally:
            cursor.close()
    except sqlite3.OperationalError as exc:
        raise OperationalError(plan.sql, values, exc) from exc
    except sqlite3.Error as exc:
        raise DBAPIError(plan.sql, values, exc) from exc
    return IteratorResult(plan.metadata, iter(rows))
