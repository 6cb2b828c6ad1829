"""Migration 0015 on a database holding scanners: every scanner gets its sync lock row, and the
downgrade drops the table and keeps the scanners."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command

from tests.integration.migrations.test_exact_token_columns import ROWS, STAMP
from tests.integration.migrations.test_ticket_types_migration import fetch
from tests.support.databases import BACKENDS, database_at_revision, execute_statements, run_async
from ticketflow.db.migrate import alembic_config

BEFORE, AFTER = "0014", "0015"
SCANNERS = [
    "INSERT INTO scanners (id, event_id, name, pairing_expires_at, expires_at, created_at, updated_at)"
    f" VALUES ({number}, 1, 'Phone {number}', '{STAMP}', '{STAMP}', '{STAMP}', '{STAMP}')"
    for number in (1, 2)
]


@pytest.fixture(params=BACKENDS)
def database_at_before(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return database_at_revision(request, tmp_path, "tf_scanner_syncs", BEFORE)


def test_every_scanner_gets_its_sync_lock_row(database_at_before: str) -> None:
    url = database_at_before
    run_async(lambda: execute_statements(url, [*ROWS, *SCANNERS]))

    command.upgrade(alembic_config(url=url), AFTER)

    assert run_async(lambda: fetch(url, "SELECT scanner_id FROM scanner_syncs ORDER BY 1")) == [(1,), (2,)]

    command.downgrade(alembic_config(url=url), BEFORE)

    assert run_async(lambda: fetch(url, "SELECT id FROM scanners ORDER BY 1")) == [(1,), (2,)]
