"""Migration 0011 on a database holding tickets: their `tf1.` codes and rows stay, they start at code
version 1, a signed code fits, the column still compares byte for byte; downgrade refuses to cut
codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.integration.migrations.test_exact_token_columns import CODE, ROWS
from tests.support.databases import BACKENDS, database_at_revision, execute_statements, run_async
from ticketflow.db.config import create_engine
from ticketflow.db.migrate import alembic_config
from ticketflow.lib.signed_codes import DEVELOPMENT_KEY, DEVELOPMENT_KID, TicketSigner
from ticketflow.settings import Settings

BEFORE, AFTER = "0010", "0011"
SIGNED = TicketSigner(((DEVELOPMENT_KID, DEVELOPMENT_KEY),)).sign(2, 1, 1, 1)
SECOND_TICKET = ROWS[4].replace("VALUES (1,", "VALUES (2,").replace(CODE, SIGNED)


@pytest.fixture(params=BACKENDS)
def database_at_before(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return database_at_revision(request, tmp_path, "tf_signed", BEFORE)


async def tickets(url: str, code: str = CODE) -> list[tuple[object, ...]]:
    engine = create_engine(Settings(database_url=url), null_pool=True)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT id, code, status, code_version FROM tickets ORDER BY id")
            )
            found = [tuple(row) for row in rows]
            look_alike = text("SELECT COUNT(*) FROM tickets WHERE code = :code")
            assert await connection.scalar(look_alike, {"code": code.upper()}) == 0
    finally:
        await engine.dispose()
    return found


def test_upgrade_keeps_tickets_at_version_one_and_fits_signed_codes(database_at_before: str) -> None:
    url = database_at_before
    run_async(lambda: execute_statements(url, ROWS))

    command.upgrade(alembic_config(url=url), AFTER)

    assert run_async(lambda: tickets(url)) == [(1, CODE, "active", 1)]
    run_async(lambda: execute_statements(url, [SECOND_TICKET]))
    assert run_async(lambda: tickets(url, SIGNED))[1] == (2, SIGNED, "active", 1)
    with pytest.raises(DBAPIError, match="code_version_positive"):  # versions start at 1
        run_async(lambda: execute_statements(url, ["UPDATE tickets SET code_version = 0 WHERE id = 1"]))


def test_downgrade_refuses_to_cut_signed_codes(database_at_before: str) -> None:
    url = database_at_before
    run_async(lambda: execute_statements(url, ROWS))
    command.upgrade(alembic_config(url=url), AFTER)
    run_async(lambda: execute_statements(url, [SECOND_TICKET]))

    with pytest.raises(RuntimeError, match="do not fit"):
        command.downgrade(alembic_config(url=url), BEFORE)

    run_async(lambda: execute_statements(url, ["DELETE FROM tickets WHERE id = 2"]))
    command.downgrade(alembic_config(url=url), BEFORE)
    columns, rows = run_async(lambda: read_tickets(url))
    assert "code_version" not in columns
    assert [(row[columns.index("id")], row[columns.index("code")]) for row in rows] == [(1, CODE)]


async def read_tickets(url: str) -> tuple[list[str], list[tuple[object, ...]]]:
    engine = create_engine(Settings(database_url=url), null_pool=True)
    try:
        async with engine.connect() as connection:
            result = await connection.execute(text("SELECT * FROM tickets"))
            return list(result.keys()), [tuple(row) for row in result]
    finally:
        await engine.dispose()
