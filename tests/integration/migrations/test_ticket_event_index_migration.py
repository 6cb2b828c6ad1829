"""Migration 0018 on a database holding a ticket: the tickets' index on (event_id, status) becomes
one on (event_id, user_id), the rows stay; downgrade brings the old index back."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command

from tests.integration.migrations.test_exact_token_columns import CODE, ROWS
from tests.integration.migrations.test_signed_codes_migration import read_tickets
from tests.support.databases import BACKENDS, database_at_revision, execute_statements, inspected, run_async
from ticketflow.db.migrate import alembic_config

BEFORE, AFTER = "0017", "0018"


@pytest.fixture(params=BACKENDS)
def database_at_before(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return database_at_revision(request, tmp_path, "tf_ticket_index", BEFORE)


def ticket_indexes(url: str) -> dict[str, list[str]]:
    """The tickets' indexes that are not unique, by name: their columns."""
    found = run_async(lambda: inspected(url, lambda schema: schema.get_indexes("tickets")))
    return {str(index["name"]): list(index["column_names"]) for index in found if not index["unique"]}


def test_upgrade_indexes_tickets_by_event_and_holder_and_keeps_rows(database_at_before: str) -> None:
    url = database_at_before
    run_async(lambda: execute_statements(url, ROWS))
    before = ticket_indexes(url)
    assert before["ix_tickets_event_id_status"] == ["event_id", "status"]

    command.upgrade(alembic_config(url=url), AFTER)

    after = ticket_indexes(url)
    assert after["ix_tickets_event_id_user_id"] == ["event_id", "user_id"]
    assert "ix_tickets_event_id_status" not in after
    assert set(after) - {"ix_tickets_event_id_user_id"} == set(before) - {"ix_tickets_event_id_status"}
    columns, rows = run_async(lambda: read_tickets(url))
    assert [(row[columns.index("code")], row[columns.index("status")]) for row in rows] == [(CODE, "active")]

    command.downgrade(alembic_config(url=url), BEFORE)

    assert ticket_indexes(url) == before
    command.upgrade(alembic_config(url=url), AFTER)  # and up again
    assert ticket_indexes(url) == after
