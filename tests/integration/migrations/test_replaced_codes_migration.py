"""Migration 0017 on a database holding a ticket: the rows stay, a replaced code refers to its ticket
and is kept once, byte for byte; downgrade drops the table again."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy.exc import DBAPIError

from tests.integration.migrations.test_exact_token_columns import CODE, ROWS
from tests.integration.migrations.test_signed_codes_migration import read_tickets
from tests.support.databases import BACKENDS, database_at_revision, execute_statements, run_async
from ticketflow.db.migrate import alembic_config

BEFORE, AFTER = "0016", "0017"
STAMP = "2031-01-01 10:00:00"


def replaced(code: str, ticket_id: int = 1) -> str:
    return (
        "INSERT INTO replaced_codes (ticket_id, old_version, old_code, replaced_at)"
        f" VALUES ({ticket_id}, 1, '{code}', '{STAMP}')"
    )


@pytest.fixture(params=BACKENDS)
def database_at_before(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return database_at_revision(request, tmp_path, "tf_replaced", BEFORE)


def test_upgrade_keeps_rows_and_keeps_replaced_codes_once(database_at_before: str) -> None:
    url = database_at_before
    run_async(lambda: execute_statements(url, ROWS))

    command.upgrade(alembic_config(url=url), AFTER)

    run_async(lambda: execute_statements(url, [replaced(CODE), replaced(CODE.replace("AbCd", "abcd"))]))
    for refused in (replaced(CODE), replaced("tf1.other", ticket_id=2)):  # once; of a ticket
        with pytest.raises(DBAPIError):
            run_async(lambda statement=refused: execute_statements(url, [statement]))
    columns, rows = run_async(lambda: read_tickets(url))
    assert [row[columns.index("code")] for row in rows] == [CODE]

    command.downgrade(alembic_config(url=url), BEFORE)

    with pytest.raises(DBAPIError):
        run_async(lambda: execute_statements(url, [replaced("tf1.later")]))
    command.upgrade(alembic_config(url=url), AFTER)  # and up again
