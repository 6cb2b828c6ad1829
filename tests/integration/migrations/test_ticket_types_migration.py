"""Existing events, orders and tickets move onto ticket types, on a database holding data before it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import text

from tests.support.databases import BACKENDS, database_at_revision, execute_statements, run_async
from ticketflow.db.config import create_engine
from ticketflow.db.migrate import alembic_config
from ticketflow.settings import Settings

BEFORE = "0006"
"""The last revision without ticket types."""
STAMP = "2031-01-01 10:00:00"


def event_row(event_id: int, capacity: int, sold: int, held: int, price: int) -> str:
    return (
        "INSERT INTO events (id, title, description, venue, timezone, starts_at, capacity, tickets_sold,"
        " tickets_held, price_cents, currency, max_per_order, status, created_at, updated_at)"
        f" VALUES ({event_id}, 'Event {event_id}', '', 'Hall', 'UTC', '{STAMP}', {capacity}, {sold},"
        f" {held}, {price}, 'EUR', 10, 'scheduled', '{STAMP}', '{STAMP}')"
    )


def order_row(order_id: int, event_id: int, quantity: int, amount: int, status: str) -> str:
    return (
        "INSERT INTO orders (id, user_id, event_id, quantity, amount_cents, currency, status,"
        f" refunded_cents, created_at, updated_at) VALUES ({order_id}, 1, {event_id}, {quantity},"
        f" {amount}, 'EUR', '{status}', 0, '{STAMP}', '{STAMP}')"
    )


def ticket_row(ticket_id: int, order_id: int, event_id: int, status: str) -> str:
    used_at = f"'{STAMP}'" if status == "used" else "NULL"
    return (
        "INSERT INTO tickets (id, order_id, user_id, event_id, code, status, used_at, created_at,"
        f" updated_at) VALUES ({ticket_id}, {order_id}, 1, {event_id}, 'tf1.code{ticket_id}', '{status}',"
        f" {used_at}, '{STAMP}', '{STAMP}')"
    )


ROWS = [
    "INSERT INTO users (id, name, email, password_hash, role, created_at, updated_at)"
    f" VALUES (1, 'Ada', 'ada@example.org', 'x', 'attendee', '{STAMP}', '{STAMP}')",
    event_row(1, 100, 2, 1, 2500),  # priced: one paid order of 2, one pending of 1
    event_row(2, 50, 1, 0, 0),  # free: one order of 1
    event_row(3, 10, 0, 0, 900),  # nothing sold
    order_row(1, 1, 2, 5000, "paid"),
    order_row(2, 1, 1, 2500, "pending"),
    order_row(3, 2, 1, 0, "paid"),
    ticket_row(1, 1, 1, "active"),
    ticket_row(2, 1, 1, "used"),
    ticket_row(3, 2, 1, "pending"),
    ticket_row(4, 3, 2, "active"),
    "INSERT INTO check_ins (ticket_id, event_id, scanned_code, result, scanned_at)"
    f" VALUES (2, 1, 'tf1.code2', 'valid', '{STAMP}')",
]


@pytest.fixture(params=BACKENDS)
def database_at_before(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return database_at_revision(request, tmp_path, "tf_types", BEFORE)


async def fetch(url: str, query: str) -> list[tuple[Any, ...]]:
    engine = create_engine(Settings(database_url=url), null_pool=True)
    try:
        async with engine.connect() as connection:
            return [tuple(row) for row in await connection.execute(text(query))]
    finally:
        await engine.dispose()


def test_every_event_order_and_ticket_lands_on_a_type(database_at_before: str) -> None:
    url = database_at_before
    run_async(lambda: execute_statements(url, ROWS))

    command.upgrade(alembic_config(url=url), "head")

    types = run_async(
        lambda: fetch(
            url,
            "SELECT id, event_id, name, price_cents, capacity, sold, held, hidden, active, tax_rate_bp"
            " FROM ticket_types ORDER BY event_id",
        )
    )
    assert [row[1:] for row in types] == [
        (1, "General admission", 2500, 100, 2, 1, False, True, 0),
        (2, "General admission", 0, 50, 1, 0, False, True, 0),
        (3, "General admission", 900, 10, 0, 0, False, True, 0),
    ]
    type_of_event = {row[1]: row[0] for row in types}
    tickets = run_async(lambda: fetch(url, "SELECT id, event_id, ticket_type_id FROM tickets ORDER BY id"))
    assert [(t[0], t[2]) for t in tickets] == [(t[0], type_of_event[t[1]]) for t in tickets]
    lines = run_async(
        lambda: fetch(
            url,
            "SELECT order_id, ticket_type_id, name, quantity, unit_price_cents, discount_cents,"
            " tax_rate_bp, amount_cents FROM order_lines ORDER BY order_id",
        )
    )
    assert lines == [
        (1, type_of_event[1], "General admission", 2, 2500, 0, 0, 5000),
        (2, type_of_event[1], "General admission", 1, 2500, 0, 0, 2500),
        (3, type_of_event[2], "General admission", 1, 0, 0, 0, 0),
    ]
    orders = run_async(lambda: fetch(url, "SELECT voucher_id, voucher_code FROM orders"))
    assert orders == [(None, None)] * 3
    # Nothing else moved: the scan log still points at its ticket.
    assert run_async(lambda: fetch(url, "SELECT ticket_id FROM check_ins")) == [(2,)]


def test_a_ticket_without_a_type_is_refused_after_the_upgrade(database_at_before: str) -> None:
    url = database_at_before
    run_async(lambda: execute_statements(url, ROWS))
    command.upgrade(alembic_config(url=url), "head")

    with pytest.raises(Exception, match=r"(?i)null|constraint"):
        run_async(lambda: execute_statements(url, [ticket_row(9, 1, 1, "active")]))


def test_downgrade_restores_the_previous_schema_with_the_rows(database_at_before: str) -> None:
    url = database_at_before
    run_async(lambda: execute_statements(url, ROWS))
    command.upgrade(alembic_config(url=url), "head")

    command.downgrade(alembic_config(url=url), BEFORE)

    assert run_async(lambda: fetch(url, "SELECT COUNT(*) FROM tickets")) == [(4,)]
    assert run_async(lambda: fetch(url, "SELECT COUNT(*) FROM orders")) == [(3,)]
