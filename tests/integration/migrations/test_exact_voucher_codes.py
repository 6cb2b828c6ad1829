"""Voucher codes compare byte for byte after the upgrade, on a database that held vouchers before it:
codes that differ in case or in trailing spaces are different vouchers."""

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

BEFORE = "0008"
"""The last revision that stored voucher codes under `utf8mb4_bin` (PAD SPACE)."""
CODE = "Save10"
STAMP = "2031-01-01 10:00:00"
EVENT = (
    "INSERT INTO events (id, title, description, venue, timezone, starts_at, capacity, tickets_sold,"
    " tickets_held, price_cents, currency, max_per_order, status, created_at, updated_at)"
    f" VALUES (1, 'Gala', '', 'Hall', 'UTC', '{STAMP}', 10, 0, 0, 2000, 'EUR', 10, 'scheduled',"
    f" '{STAMP}', '{STAMP}')"
)


def voucher(voucher_id: int, code: str) -> str:
    return (
        "INSERT INTO vouchers (id, event_id, code, kind, value, uses, unlocks_hidden, created_at,"
        f" updated_at) VALUES ({voucher_id}, 1, '{code}', 'percent', 10, 0, 0, '{STAMP}', '{STAMP}')"
    )


LOOK_ALIKES = [CODE.upper(), CODE.lower(), CODE + " ", CODE + "  "]


@pytest.fixture(params=BACKENDS)
def database_at_before(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return database_at_revision(request, tmp_path, "tf_vcodes", BEFORE)


async def matches(url: str) -> dict[str, list[int]]:
    """The vouchers each code finds."""
    engine = create_engine(Settings(database_url=url), null_pool=True)
    try:
        async with engine.connect() as connection:
            query = text("SELECT id FROM vouchers WHERE event_id = 1 AND code = :code ORDER BY id")
            return {
                code: list((await connection.scalars(query, {"code": code})).all())
                for code in [CODE, *LOOK_ALIKES]
            }
    finally:
        await engine.dispose()


def test_upgrade_keeps_vouchers_and_tells_look_alikes_apart(database_at_before: str) -> None:
    url = database_at_before
    run_async(lambda: execute_statements(url, [EVENT, voucher(1, CODE)]))

    command.upgrade(alembic_config(url=url), "head")

    assert run_async(lambda: matches(url)) == {CODE: [1], **{code: [] for code in LOOK_ALIKES}}
    # Look-alikes can be vouchers of their own now...
    others = [voucher(2 + n, code) for n, code in enumerate(LOOK_ALIKES)]
    run_async(lambda: execute_statements(url, others))
    found = run_async(lambda: matches(url))
    assert found == {CODE: [1], **{code: [2 + n] for n, code in enumerate(LOOK_ALIKES)}}
    # ...and the very same code still cannot be given twice in one event.
    with pytest.raises(IntegrityError):
        run_async(lambda: execute_statements(url, [voucher(9, CODE)]))


def test_downgrade_keeps_case_apart(database_at_before: str) -> None:
    url = database_at_before
    run_async(lambda: execute_statements(url, [EVENT, voucher(1, CODE), voucher(2, CODE.upper())]))
    command.upgrade(alembic_config(url=url), "head")

    command.downgrade(alembic_config(url=url), BEFORE)

    found = run_async(lambda: matches(url))
    assert (found[CODE], found[CODE.upper()], found[CODE.lower()]) == ([1], [2], [])
    if url.startswith("mysql"):
        assert found[CODE + " "] == [1]  # PAD SPACE is back
