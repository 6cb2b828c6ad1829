"""The hot paths' connections: commit, roll back, survive dropped connections, serve in order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from ticketflow.db import driver_pool
from ticketflow.db.config import create_engine
from ticketflow.db.driver import DriverConnection
from ticketflow.db.driver_pool import AsyncmyDriverPool, DriverPool, EngineDriverPool, create_driver_pool
from ticketflow.settings import Settings

INSERT_USER = (
    "INSERT INTO users (name, email, password_hash, role, created_at, updated_at)"
    " VALUES (%s, %s, 'x', 'attendee', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
)
COUNT_USERS = "SELECT COUNT(*) FROM users WHERE email = %s"


class Refused(Exception):
    """A business rule refusing a step half-way through a transaction."""


@pytest.fixture
async def pool(settings: Settings) -> AsyncIterator[DriverPool]:
    engine = create_engine(settings)
    drivers = create_driver_pool(engine, 3)
    yield drivers
    await drivers.close()
    await engine.dispose()


async def count(pool: DriverPool, email: str) -> int:
    async with pool.transaction() as db:
        row = await db.fetchone(COUNT_USERS, (email,))
    assert row is not None
    return int(row[0])


def test_each_database_gets_its_own_kind_of_pool() -> None:
    mysql = create_engine(Settings(database_url="mysql+asyncmy://u:p@127.0.0.1:3306/d"))
    sqlite = create_engine(Settings(database_url="sqlite+aiosqlite:///:memory:"))
    mysql_pool = create_driver_pool(mysql, 7)
    assert isinstance(mysql_pool, AsyncmyDriverPool)
    assert mysql_pool.size == 7
    # The dialect's own connection arguments: charset and rows *matched* by an UPDATE.
    assert mysql_pool.connect_arguments["charset"] == "utf8mb4"
    assert mysql_pool.connect_arguments["client_flag"] & 2  # CLIENT.FOUND_ROWS
    assert isinstance(create_driver_pool(sqlite, 7), EngineDriverPool)


async def test_a_finished_transaction_is_committed(pool: DriverPool) -> None:
    async with pool.transaction() as db:
        assert await db.execute(INSERT_USER, ("Kept", "kept@example.com")) == 1
    assert await count(pool, "kept@example.com") == 1


async def test_a_refused_step_rolls_everything_back_and_the_pool_goes_on(pool: DriverPool) -> None:
    async def refused_insert(attempt: int) -> None:
        async with pool.transaction() as db:
            await db.execute(INSERT_USER, (f"Gone {attempt}", "gone@example.com"))
            raise Refused

    for attempt in range(5):  # more attempts than connections: none is lost or left dirty
        with pytest.raises(Refused):
            await refused_insert(attempt)
    assert await count(pool, "gone@example.com") == 0


async def test_a_database_error_rolls_back(pool: DriverPool) -> None:
    async def insert_twice() -> None:
        async with pool.transaction() as db:
            await db.execute(INSERT_USER, ("Twin", "twin@example.com"))
            await db.execute(INSERT_USER, ("Twin", "twin@example.com"))

    with pytest.raises(Exception, match=r"(?i)duplicate|unique"):
        await insert_twice()
    assert await count(pool, "twin@example.com") == 0


def new_row_id(db: DriverConnection) -> str:
    return "last_insert_rowid()" if db.is_sqlite else "LAST_INSERT_ID()"


async def test_an_insert_and_the_statements_after_it_go_together(pool: DriverPool) -> None:
    async with pool.transaction() as db:
        rename = f"UPDATE users SET name = %s WHERE id = {new_row_id(db)}"
        read = f"SELECT id, name FROM users WHERE id = {new_row_id(db)}"
        user_id, rows = await db.insert_then(
            INSERT_USER, ("First", "pair@example.com"), (rename, ("Renamed",)), (read, ())
        )
        assert rows == [(user_id, "Renamed")]
        _, nothing_read = await db.insert_then(
            INSERT_USER, ("Second", "pair2@example.com"), (rename, ("Two",))
        )
        assert nothing_read == []
    async with pool.transaction() as db:
        kept = await db.fetchall("SELECT name FROM users WHERE email LIKE %s ORDER BY id", ("pair%",))
    assert kept == [("Renamed",), ("Two",)]


async def test_a_failing_statement_after_an_insert_rolls_both_back(pool: DriverPool) -> None:
    async def insert_then_fail(attempt: int) -> None:
        async with pool.transaction() as db:
            then = f"UPDATE users SET email = NULL WHERE id = {new_row_id(db)}"  # NOT NULL: refused
            await db.insert_then(INSERT_USER, (f"Half {attempt}", "half@example.com"), (then, ()))

    for attempt in range(5):  # more attempts than connections: none is left with a result unread
        with pytest.raises(Exception, match=r"(?i)null"):
            await insert_then_fail(attempt)
    assert await count(pool, "half@example.com") == 0


@pytest.mark.mysql
@pytest.mark.parametrize("database_url", ["mysql"], indirect=True)
async def test_connections_dropped_by_the_server_are_replaced(
    pool: DriverPool, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server restart or `wait_timeout` closes idle connections: the next scan must not fail."""
    monkeypatch.setattr(driver_pool, "PING_AFTER_IDLE_SECONDS", 0.0)
    ids = set()
    for _ in range(3):
        async with pool.transaction() as db:
            row = await db.fetchone("SELECT CONNECTION_ID()", ())
            assert row is not None
            ids.add(int(row[0]))
    admin = create_engine(settings)
    async with admin.connect() as connection:
        for connection_id in ids:
            await connection.execute(text(f"KILL CONNECTION {connection_id}"))
    await admin.dispose()
    await asyncio.sleep(0.05)

    async with pool.transaction() as db:
        row = await db.fetchone("SELECT CONNECTION_ID()", ())
    assert row is not None
    assert int(row[0]) not in ids


@pytest.mark.mysql
@pytest.mark.parametrize("database_url", ["mysql"], indirect=True)
async def test_a_cancelled_statement_closes_its_connection(pool: DriverPool) -> None:
    assert isinstance(pool, AsyncmyDriverPool)

    async def slow() -> None:
        async with pool.transaction() as db:
            await db.fetchone("SELECT SLEEP(5)", ())

    task = asyncio.create_task(slow())
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert pool._pool is not None
    assert pool._pool.size == 0  # the half-read connection was closed, not put back
    assert await count(pool, "nobody@example.com") == 0


@pytest.mark.mysql
@pytest.mark.parametrize("database_url", ["mysql"], indirect=True)
async def test_when_every_connection_is_busy_requests_are_served_in_arrival_order(pool: DriverPool) -> None:
    """Six door scanners on three connections, each scanning again as soon as it is answered:
    the one that just finished queues behind those already waiting instead of barging in."""
    started: list[int] = []

    async def scanner(number: int) -> None:
        for _ in range(4):
            async with pool.transaction() as db:
                started.append(number)
                await db.fetchone("SELECT SLEEP(0.01)", ())

    await asyncio.gather(*(scanner(number) for number in range(6)))
    assert sorted(started[:6]) == list(range(6))
    assert sorted(started) == sorted(list(range(6)) * 4)
