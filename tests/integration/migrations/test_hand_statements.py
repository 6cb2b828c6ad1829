"""The hand-written statements of the hot paths agree with the models and the migrated schema.

Every `Statement` of every context's `statements` module (of a `PerDialect` one, the database's own
text) is prepared by each database (`EXPLAIN`: a table or column the schema lacks fails), and every
INSERT names each column the database needs a value for (hand SQL gets none of the models'
Python-side defaults).
"""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest
from sqlalchemy import Table

import ticketflow.domain
from ticketflow.db.base import Base
from ticketflow.db.config import create_engine
from ticketflow.db.driver import driver_transaction
from ticketflow.db.models.tickets import Ticket, TicketStatus
from ticketflow.db.sql import PerDialect, Statement, sql
from ticketflow.domain.checkin.statements import SELECT_TIMELINE, TICKET_ID_INDEX, for_batch
from ticketflow.settings import Settings

INSERT_COLUMNS = re.compile(r"INSERT INTO (\w+) \(([^)]*)\)")


def hand_statements() -> dict[str, Statement | PerDialect]:
    """Every statement of every `ticketflow.domain.<context>.statements` module, by name."""
    found: dict[str, Statement | PerDialect] = {}
    for context in pkgutil.iter_modules(ticketflow.domain.__path__):
        if not context.ispkg:
            continue
        name = f"ticketflow.domain.{context.name}.statements"
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as missing:
            if missing.name != name:
                raise
            continue
        for attribute, value in vars(module).items():
            if isinstance(value, (Statement, PerDialect)):
                found[f"{context.name}.{attribute}"] = value
    return found


STATEMENTS = hand_statements()
INSERTS = {
    name: statement
    for name, statement in STATEMENTS.items()
    if isinstance(statement, Statement) and statement.startswith("INSERT ")
}


def required_columns(table: Table) -> set[str]:
    """Columns an INSERT must name: NOT NULL, no server default, not the generated id."""
    return {
        column.name
        for column in table.columns
        if not column.nullable
        and column.server_default is None
        and not (column.primary_key and column.autoincrement in (True, "auto"))
    }


def test_every_context_has_its_statements_found() -> None:
    names = set(STATEMENTS)
    assert {
        "checkin.ADMIT",
        "checkin.SELECT_SCANNED",
        "checkin.RECORD_SCAN",
        "checkin.COUNT_AT_GATE",
        "checkin.COUNT_AT_GATE_OF_SCAN",
    } <= names
    assert {"tickets.TAKE_SOLD_SEATS", "tickets.INSERT_PAID_ORDER", "tickets.INSERT_ACTIVE_TICKET"} <= names
    assert {"tickets.SELECT_VOUCHER", "tickets.TAKE_TYPE_HELD_SEATS", "notifications.INSERT_MESSAGE"} <= names


@pytest.mark.parametrize("name", sorted(INSERTS))
def test_inserts_fill_every_required_column(name: str) -> None:
    match = INSERT_COLUMNS.match(INSERTS[name])
    assert match is not None
    table = Base.metadata.tables[match[1]]
    named = {column.strip() for column in match[2].split(",")}
    assert named <= set(table.columns.keys())
    assert required_columns(table) <= named, "the database would refuse this row"


def test_an_insert_of_several_rows_repeats_its_values() -> None:
    one = sql("INSERT INTO {t} ({t.code}, {t.status}) VALUES (%s, {s})", t=Ticket, s=TicketStatus.USED)
    assert one.rows(3) == "INSERT INTO tickets (code, status) VALUES (%s, 'used'), (%s, 'used'), (%s, 'used')"
    assert one.rows(3).parameters == 3


def test_a_column_the_model_lacks_fails_at_once() -> None:
    assert sql("SELECT {t.code} FROM {t} WHERE {t.status} = {s}", t=Ticket, s=TicketStatus.USED) == (
        "SELECT code FROM tickets WHERE status = 'used'"
    )
    with pytest.raises(KeyError):
        sql("SELECT {t.serial} FROM {t}", t=Ticket)
    with pytest.raises(ValueError, match="fields"):
        sql("SELECT {t.code} FROM {t} WHERE {u.id} = 1", t=Ticket)


async def test_the_database_prepares_every_statement(database_url: str) -> None:
    engine = create_engine(Settings(database_url=database_url), null_pool=True)
    try:
        async with driver_transaction(engine) as db:
            refused = {}
            for name, written in STATEMENTS.items():
                statement = written if isinstance(written, Statement) else written.of(db.is_sqlite)
                try:
                    await db.fetchall(f"EXPLAIN {statement}", [None] * statement.parameters)
                except Exception as error:
                    refused[name] = str(error)
            assert refused == {}
            with pytest.raises(Exception, match="serial"):  # the control: a wrong column fails
                await db.fetchall("EXPLAIN SELECT serial FROM tickets WHERE id = %s", [None])
    finally:
        await engine.dispose()


async def test_the_sync_reads_timelines_by_the_ticket_index(database_url: str) -> None:
    """Beyond 200 ids MariaDB trusts the table's statistics, which lag behind a growing scan log
    (a fresh table: none), and chose to scan the whole log; the sync's timeline read names the
    index on MySQL/MariaDB. SQLite chooses it alone."""
    engine = create_engine(Settings(database_url=database_url), null_pool=True)
    ids = list(range(1, 302))
    try:
        async with driver_transaction(engine) as db:
            statement = for_batch(SELECT_TIMELINE.of(db.is_sqlite), len(ids))
            if db.is_sqlite:
                plan = await db.fetchall(f"EXPLAIN QUERY PLAN {statement}", ids)
                assert any(TICKET_ID_INDEX in str(row[-1]) for row in plan), plan
            else:
                plan = await db.fetchall(f"EXPLAIN {statement}", ids)
                assert [row[5] for row in plan] == [TICKET_ID_INDEX], plan  # `key`: the index used
                hint = f" FORCE INDEX ({TICKET_ID_INDEX})"
                assert SELECT_TIMELINE.mysql.replace(hint, "") == SELECT_TIMELINE.sqlite
    finally:
        await engine.dispose()
