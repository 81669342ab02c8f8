"""The fast path's direct SQLite reads return what SQLAlchemy returns, or step aside."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Integer,
    MetaData,
    Table,
    bindparam,
    create_engine,
    insert,
    select,
    text,
)
from sqlalchemy.exc import OperationalError

import harness.server.eps.records
import harness.server.identity.service
import harness.server.mesh.service
import harness.server.pds.service
from harness.server.fastpath.sqlite import DirectReads
from harness.server.store import DIRECT_READ_OPTION, direct_read
from harness.server.store.schema import metadata


def _value(column: Column[Any], n: int) -> Any:
    if column.name == "status":
        return "accepted" if n % 2 else "acknowledged"
    python_type = column.type.python_type
    if python_type is int:
        return n
    if python_type is float:
        return n + 0.5
    if python_type is bytes:
        return f"{column.name}-{n}".encode()
    return f"{column.name}-{n % 3}"  # repeated values, so lookups find several rows


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[Connection]:
    engine = create_engine(f"sqlite:///{tmp_path / 'fast.db'}")
    metadata.create_all(engine)
    with engine.begin() as setup:
        for name in ("pds_patients", "eps_prescriptions", "sessions", "mesh_messages"):
            table = metadata.tables[name]
            rows = [{c.name: _value(c, n) for c in table.columns} for n in range(7)]
            if any(c.primary_key for c in table.columns):  # keys must differ
                for n, row in enumerate(rows):
                    for c in table.primary_key.columns:
                        row[c.name] = n if c.type.python_type is int else f"{c.name}-k{n}"
            setup.execute(insert(table), rows)
    with engine.connect() as connection:
        yield connection
    engine.dispose()


HOT = {
    "pds record": (harness.server.pds.service._RECORD, {"nhs_number": "nhs_number-k2"}),
    "eps issues": (harness.server.eps.records._ISSUES, {"prescription_id": "prescription_id-k1"}),
    "session": (harness.server.identity.service._BY_TOKEN, {"token": "token-k3"}),
    "inbox page": (harness.server.mesh.service._INBOX_PAGE, {"mailbox": "recipient-1", "limit": 2}),
    "inbox count": (harness.server.mesh.service._INBOX_COUNT, {"mailbox": "recipient-1"}),
}


@pytest.mark.parametrize("name", sorted(HOT))
def test_each_hot_read_returns_what_sqlalchemy_returns(conn: Connection, name: str) -> None:
    statement, parameters = HOT[name]
    expected = conn.execute(statement, parameters)
    fast = DirectReads()
    got = fast(conn, statement, parameters)
    assert got is not None, f"{name} is not on the direct path"
    assert list(got.keys()) == list(expected.keys())
    rows = got.all()
    assert [tuple(r) for r in rows] == [tuple(r) for r in expected.all()]
    assert rows, f"{name}: the fixture should find rows"
    again = fast(conn, statement, parameters)
    assert again is not None
    assert [dict(m) for m in again.mappings()] == [r._asdict() for r in rows]


def test_the_hot_reads_opt_in_on_the_statement() -> None:
    for statement, _ in HOT.values():
        assert statement.get_execution_options()[DIRECT_READ_OPTION] is True


def test_statements_it_cannot_run_go_through_sqlalchemy(conn: Connection) -> None:
    extra = MetaData()
    stamped = Table("stamped", extra, Column("id", Integer, primary_key=True),
                    Column("at", DateTime))  # fmt: skip
    extra.create_all(conn)
    pds = metadata.tables["pds_patients"]
    fast = DirectReads()
    expanding = direct_read(
        select(pds.c.version).where(pds.c.nhs_number.in_(bindparam("numbers", expanding=True)))
    )
    processed = direct_read(select(stamped.c.at))  # DateTime: a result processor
    write = direct_read(insert(stamped))
    unmarked = select(pds.c.version).where(pds.c.nhs_number == bindparam("nhs_number"))
    assert fast(conn, expanding, {"numbers": ["a"]}) is None
    assert fast(conn, processed, {}) is None
    assert fast(conn, write, {"id": 1}) is None
    assert fast(conn, unmarked, {"nhs_number": "x"}) is None
    record = harness.server.pds.service._RECORD
    assert fast(conn, record, {}) is None  # missing: SQLAlchemy's error
    assert fast(conn, record, [{"nhs_number": "x"}]) is None  # executemany


def test_database_errors_arrive_as_sqlalchemy_errors(conn: Connection) -> None:
    conn.execute(text("DROP TABLE pds_patients"))
    with pytest.raises(OperationalError, match="no such table"):
        DirectReads()(conn, harness.server.pds.service._RECORD, {"nhs_number": "x"})
