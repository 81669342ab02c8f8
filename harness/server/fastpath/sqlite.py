"""Direct SQLite reads: opted-in ``SELECT``\\ s run on the DB-API cursor, rows in SQLAlchemy's
result class.

A statement opts in with :func:`harness.server.store.direct_read` (a SQLAlchemy execution
option, so it is visible on the statement itself and ignored by everything but this module).
SQLAlchemy's execution context (cache lookup, parameter construction, cursor and result set-up)
costs several times what SQLite needs for a primary-key read; the reads that most requests of
the national mix make are run here instead (cost figures: the benchmarks page of the docs). It
is written narrowly:

- Only opted-in statements take it, and only when their compiled form needs nothing SQLAlchemy
  would add at execution: a ``SELECT`` without expanding (``IN``) parameters, no bind or result
  processors for any type (SQLite stores these columns as they are), and positional parameters.
  Anything else runs through SQLAlchemy; the check is made once per statement, on first use.
- SQL text and parameter order come from SQLAlchemy's own compiler for the SQLite dialect, and
  the rows come back as SQLAlchemy's :class:`~sqlalchemy.engine.Result` (``first``, ``all``,
  ``scalars``, ``mappings``, attribute access), so callers cannot tell the paths apart.
- Database errors are raised as SQLAlchemy's ``OperationalError``/``DBAPIError``, as the store's
  callers expect (a locked or missing database becomes a 503, see ``Store.connect``).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.engine.result import IteratorResult, SimpleResultMetaData
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.selectable import Select

from harness.server.store import DIRECT_READ_OPTION


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


class DirectReads:
    """Runs opted-in reads on a SQLite connection's cursor; one per store (plans cached here)."""

    def __init__(self) -> None:
        # Statement -> how to run it, or None: through SQLAlchemy. Keys are the services'
        # module-level statements (a handful), hashed by identity.
        self._plans: dict[Executable, _Plan | None] = {}

    def __call__(
        self, conn: Connection, statement: Executable, parameters: Any
    ) -> IteratorResult[Any] | None:
        """Run ``statement`` directly; ``None`` when it must go through SQLAlchemy."""
        if not statement.get_execution_options().get(DIRECT_READ_OPTION):
            return None
        if statement in self._plans:
            plan = self._plans[statement]
        else:
            plan = self._plans[statement] = _plan(statement, conn.dialect)
        if plan is None or not isinstance(parameters, dict):
            return None
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
