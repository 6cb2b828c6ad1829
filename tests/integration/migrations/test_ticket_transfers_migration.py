"""Migration 0013 on a database holding tickets and queued mail: the rows stay, the outbox takes the
transfer messages, a transfer row refers to its ticket; downgrade drops them again."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy.exc import DBAPIError

from tests.integration.migrations.test_exact_token_columns import CODE, ROWS
from tests.integration.migrations.test_signed_codes_migration import read_tickets
from tests.support.databases import BACKENDS, database_at_revision, execute_statements, run_async
from ticketflow.db.migrate import alembic_config

BEFORE, AFTER = "0012", "0013"
STAMP = "2031-01-01 10:00:00"
TRANSFER_MAIL = (
    "INSERT INTO outbox_messages (kind, status, message_id, recipient, recipient_name, payload,"
    " attempts, next_attempt_at, created_at, updated_at)"
    f" VALUES ('ticket_received', 'pending', '<m2@example.org>', 'ada@example.org', 'Ada', '{{}}', 0,"
    f" '{STAMP}', '{STAMP}', '{STAMP}')"
)
TRANSFER = (
    "INSERT INTO ticket_transfers (ticket_id, from_user_id, to_user_id, by_user_id, old_version, old_code,"
    f" transferred_at) VALUES (1, 1, 1, 1, 1, '{CODE}', '{STAMP}')"
)


@pytest.fixture(params=BACKENDS)
def database_at_before(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return database_at_revision(request, tmp_path, "tf_transfers", BEFORE)


def test_upgrade_keeps_rows_and_takes_transfers(database_at_before: str) -> None:
    url = database_at_before
    run_async(lambda: execute_statements(url, ROWS))
    with pytest.raises(DBAPIError):  # not a known kind yet
        run_async(lambda: execute_statements(url, [TRANSFER_MAIL]))

    command.upgrade(alembic_config(url=url), AFTER)

    run_async(lambda: execute_statements(url, [TRANSFER_MAIL, TRANSFER]))
    with pytest.raises(DBAPIError):  # one transfer per version of a ticket
        run_async(lambda: execute_statements(url, [TRANSFER]))
    columns, rows = run_async(lambda: read_tickets(url))
    assert [row[columns.index("code")] for row in rows] == [CODE]

    command.downgrade(alembic_config(url=url), BEFORE)

    run_async(lambda: execute_statements(url, [ROWS[-1].replace("<m1@", "<m3@")]))  # the outbox still works
    with pytest.raises(DBAPIError):
        run_async(lambda: execute_statements(url, [TRANSFER]))
