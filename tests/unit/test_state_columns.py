"""State columns: StrEnum members in Python, the same VARCHAR words in the database."""

from __future__ import annotations

import pytest
from sqlalchemy import Enum, select
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.schema import CreateTable

from ticketflow.db.base import table_of
from ticketflow.db.models.events import Event
from ticketflow.db.models.outbox import OutboxMessage
from ticketflow.db.models.tickets import Ticket, TicketStatus

DIALECTS = [mysql.dialect(), sqlite.dialect()]


@pytest.mark.parametrize("dialect", DIALECTS, ids=["mysql", "sqlite"])
def test_a_state_column_is_a_plain_varchar_in_the_ddl(dialect: Dialect) -> None:
    ddl = str(CreateTable(table_of(Ticket)).compile(dialect=dialect))
    assert "status VARCHAR(16) NOT NULL" in ddl
    assert "ENUM(" not in ddl
    outbox = str(CreateTable(table_of(OutboxMessage)).compile(dialect=dialect))
    assert "kind VARCHAR(32) NOT NULL" in outbox


def test_the_stored_word_is_the_value_and_reads_back_as_the_member() -> None:
    column_type = table_of(Ticket).c.status.type
    assert isinstance(column_type, Enum)
    dialect = mysql.dialect()
    to_database = column_type.bind_processor(dialect)
    from_database = column_type.result_processor(dialect, None)
    assert to_database is not None
    assert from_database is not None
    assert to_database(TicketStatus.ACTIVE) == "active"
    assert to_database("active") == "active"
    read = from_database("used")
    assert read is TicketStatus.USED
    assert f"{read}" == "used"


def test_an_unknown_word_in_a_filter_matches_nothing_instead_of_failing() -> None:
    to_database = table_of(Event).c.status.type.bind_processor(sqlite.dialect())
    assert to_database is not None
    assert to_database("\x00") == "\x00"


@pytest.mark.parametrize("dialect", DIALECTS, ids=["mysql", "sqlite"])
def test_hand_statements_built_from_the_table_keep_the_words(dialect: Dialect) -> None:
    tickets = table_of(Ticket)
    statement = select(tickets.c.id).where(
        tickets.c.status == TicketStatus.ACTIVE, tickets.c.event_id.in_(select(table_of(Event).c.id))
    )
    sql = str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    assert "tickets.status = 'active'" in sql
