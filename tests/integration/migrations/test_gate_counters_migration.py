"""Migration 0014 on a database holding gates with counts, a scanner and a scan at a gate: each
gate's counts move into its counter rows (slot 0, the other slots zero), the gate's columns go, and
nothing that points at a gate loses it; downgrade sums the rows back into the gate."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command

from tests.integration.migrations.test_exact_token_columns import ROWS, STAMP
from tests.integration.migrations.test_ticket_types_migration import fetch
from tests.support.databases import BACKENDS, database_at_revision, execute_statements, run_async
from ticketflow.db.migrate import alembic_config
from ticketflow.db.models.gates import GATE_COUNTER_SLOTS

BEFORE, AFTER = "0013", "0014"
GATES = [
    "INSERT INTO gates (id, event_id, name, ticket_type_ids, allow_reentry, admitted, inside, refused,"
    f" created_at, updated_at) VALUES (1, 1, 'North', '[]', 1, 7, 3, 2, '{STAMP}', '{STAMP}')",
    "INSERT INTO gates (id, event_id, name, ticket_type_ids, allow_reentry, admitted, inside, refused,"
    f" created_at, updated_at) VALUES (2, 1, 'South', '[1]', 0, 0, 0, 5, '{STAMP}', '{STAMP}')",
    "INSERT INTO scanners (id, event_id, gate_id, name, pairing_expires_at, expires_at, created_at,"
    f" updated_at) VALUES (1, 1, 2, 'Phone', '{STAMP}', '{STAMP}', '{STAMP}', '{STAMP}')",
    "INSERT INTO check_ins (ticket_id, event_id, door_event_id, scanned_code, result, gate_id,"
    f" scanner_id, scanned_at) VALUES (1, 1, 1, 'x', 'valid', 1, 1, '{STAMP}')",
]


@pytest.fixture(params=BACKENDS)
def database_at_before(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return database_at_revision(request, tmp_path, "tf_counters", BEFORE)


def test_counts_move_into_counter_rows_and_back(database_at_before: str) -> None:
    url = database_at_before
    run_async(lambda: execute_statements(url, [*ROWS, *GATES]))

    command.upgrade(alembic_config(url=url), AFTER)

    rows = run_async(
        lambda: fetch(url, "SELECT gate_id, slot, admitted, inside, refused FROM gate_counters ORDER BY 1, 2")
    )
    assert len(rows) == 2 * GATE_COUNTER_SLOTS
    assert rows[0] == (1, 0, 7, 3, 2)
    assert rows[GATE_COUNTER_SLOTS] == (2, 0, 0, 0, 5)
    assert {row[2:] for i, row in enumerate(rows) if i % GATE_COUNTER_SLOTS} == {(0, 0, 0)}
    gates = run_async(lambda: fetch(url, "SELECT * FROM gates ORDER BY id"))
    assert [(row[0], row[2]) for row in gates] == [(1, "North"), (2, "South")]
    assert len(gates[0]) == 7  # id, event, name, types, re-entry, created, updated: no counters
    assert run_async(lambda: fetch(url, "SELECT gate_id FROM scanners")) == [(2,)]
    assert run_async(lambda: fetch(url, "SELECT gate_id FROM check_ins")) == [(1,)]
    run_async(  # a scan out through another slot than its way in: the row goes below zero
        lambda: execute_statements(
            url, ["UPDATE gate_counters SET inside = inside - 4 WHERE gate_id = 1 AND slot = 5"]
        )
    )

    command.downgrade(alembic_config(url=url), BEFORE)

    counts = run_async(lambda: fetch(url, "SELECT id, admitted, inside, refused FROM gates ORDER BY id"))
    assert counts == [(1, 7, 0, 2), (2, 0, 0, 5)]  # inside clamped at zero, as the sums are read
    assert run_async(lambda: fetch(url, "SELECT gate_id FROM check_ins")) == [(1,)]
