"""Token columns compare byte for byte after the upgrade, on a database that held data before it."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tests.support.databases import BACKENDS, database_at_revision, execute_statements, run_async
from ticketflow.db.config import create_engine
from ticketflow.db.migrate import alembic_config
from ticketflow.settings import Settings

BEFORE = "0007"
"""The last revision that compared token columns under the table collation."""
CODE = "tf1.AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcd"
KEY = "Retry-Key-1"
STAMP = "2031-01-01 10:00:00"
ROWS = [
    "INSERT INTO users (id, name, email, password_hash, role, created_at, updated_at)"
    f" VALUES (1, 'Ada', 'ada@example.org', 'x', 'attendee', '{STAMP}', '{STAMP}')",
    "INSERT INTO events (id, title, description, venue, timezone, starts_at, capacity, tickets_sold,"
    " tickets_held, price_cents, currency, max_per_order, status, created_at, updated_at)"
    f" VALUES (1, 'Gala', '', 'Hall', 'UTC', '{STAMP}', 10, 1, 0, 0, 'EUR', 10, 'scheduled',"
    f" '{STAMP}', '{STAMP}')",
    "INSERT INTO orders (id, user_id, event_id, quantity, amount_cents, currency, status,"
    " idempotency_key, request_fingerprint, refunded_cents, created_at, updated_at)"
    f" VALUES (1, 1, 1, 1, 0, 'EUR', 'paid', '{KEY}', 'f', 0, '{STAMP}', '{STAMP}')",
    "INSERT INTO ticket_types (id, event_id, name, description, price_cents, tax_rate_bp, sold, held,"
    " hidden, position, active, created_at, updated_at)"
    f" VALUES (1, 1, 'General', '', 0, 0, 1, 0, 0, 0, 1, '{STAMP}', '{STAMP}')",
    "INSERT INTO tickets (id, order_id, user_id, event_id, ticket_type_id, code, status, created_at,"
    f" updated_at) VALUES (1, 1, 1, 1, 1, '{CODE}', 'active', '{STAMP}', '{STAMP}')",
    "INSERT INTO outbox_messages (kind, status, message_id, recipient, recipient_name, payload,"
    " attempts, next_attempt_at, created_at, updated_at)"
    f" VALUES ('tickets', 'pending', '<m1@example.org>', 'ada@example.org', 'Ada', '{{}}', 0,"
    f" '{STAMP}', '{STAMP}', '{STAMP}')",
]
LOOK_ALIKES = [CODE.upper(), CODE.lower(), CODE + " ", CODE + "  ", CODE + "\t", CODE + "\x00"]


@pytest.fixture(params=BACKENDS)
def database_at_before(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return database_at_revision(request, tmp_path, "tf_exact", BEFORE)


async def matches(url: str) -> dict[str, int]:
    """How many tickets each look-alike of the code finds, and how many the real code finds."""
    engine = create_engine(Settings(database_url=url), null_pool=True)
    found = {}
    try:
        async with engine.connect() as connection:
            for code in [CODE, *LOOK_ALIKES]:
                query = text("SELECT COUNT(*) FROM tickets WHERE code = :code")
                found[code] = int(await connection.scalar(query, {"code": code}) or 0)
            query = text("SELECT COUNT(*) FROM orders WHERE idempotency_key = :key")
            found["key upper"] = int(await connection.scalar(query, {"key": KEY.upper()}) or 0)
    finally:
        await engine.dispose()
    return found


def test_upgrade_keeps_rows_and_compares_them_exactly(database_at_before: str) -> None:
    url = database_at_before
    run_async(lambda: execute_statements(url, ROWS))

    command.upgrade(alembic_config(url=url), "head")

    assert run_async(lambda: matches(url)) == {CODE: 1, **dict.fromkeys(LOOK_ALIKES, 0), "key upper": 0}
    # Keys that differ only in case are different keys now: the unique index lets both in.
    other_key = ROWS[2].replace("(1, 1, 1,", "(2, 1, 1,").replace(KEY, KEY.upper())
    run_async(lambda: execute_statements(url, [other_key]))
    # ...and the very same code still cannot be issued twice.
    duplicate = ROWS[4].replace("VALUES (1,", "VALUES (2,")
    with pytest.raises(IntegrityError):
        run_async(lambda: execute_statements(url, [duplicate]))


def test_downgrade_returns_to_the_table_collation(database_at_before: str) -> None:
    url = database_at_before
    run_async(lambda: execute_statements(url, ROWS))
    command.upgrade(alembic_config(url=url), "head")

    command.downgrade(alembic_config(url=url), BEFORE)

    found = run_async(lambda: matches(url))
    assert found[CODE] == 1
    if url.startswith("mysql"):
        assert found[CODE.upper()] == 1  # the old, case-insensitive comparison is back
