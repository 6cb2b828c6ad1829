"""Databases and settings for the tests: the backends, test settings, MySQL databases on demand."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import uuid
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from alembic import command
from asyncmy.errors import OperationalError
from sqlalchemy import inspect, select, text, update
from sqlalchemy.engine import Inspector, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from tests.support.mariadb import MariaDBServer
from ticketflow.db.base import Base
from ticketflow.db.config import create_engine
from ticketflow.db.migrate import alembic_config
from ticketflow.db.models.events import Event
from ticketflow.db.models.gates import GateCounter, counter_sums
from ticketflow.settings import Settings

T = TypeVar("T")
BACKENDS = ["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)]

DEADLOCK = OperationalError(1213, "Deadlock found when trying to get lock; try restarting transaction")
"""MariaDB's error 1213 as asyncmy raises it: this transaction was chosen as a deadlock's victim."""


def settings_for_tests(database_url: str, **overrides: object) -> Settings:
    """Settings for tests: cheap argon2 parameters (still argon2id), no auto-migration, day-long
    attempt windows."""
    base = Settings(
        env="test",
        database_url=database_url,
        jwt_secret="test-secret-" + "x" * 40,
        argon2_memory_kib=1024,
        argon2_time_cost=1,
        database_auto_migrate=False,
        worker_in_process=False,
        # attempt windows far longer than a test, so no attempt leaves its window during one
        login_window_seconds=86_400,
        register_window_seconds=86_400,
    )
    return base.with_overrides(**overrides) if overrides else base


class MySQLProvider:
    """Creates databases on a MySQL/MariaDB server for the tests."""

    def __init__(self, admin_url: str, server: MariaDBServer | None) -> None:
        self.admin_url = admin_url
        self.server = server

    def url_for(self, database: str) -> str:
        return str(make_url(self.admin_url).set(database=database).render_as_string(hide_password=False))

    async def create_database(self, prefix: str = "tf") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        engine = create_engine(Settings(database_url=self.admin_url), null_pool=True)
        async with engine.connect() as connection:
            await connection.execute(
                text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
            )
        await engine.dispose()
        return self.url_for(name)


def run_async(coroutine_function: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion from sync code, even while a loop runs in this thread."""
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(asyncio.run, coroutine_function()).result()


async def truncate_all(engine: AsyncEngine) -> None:
    """Bring every table back to empty with its auto-increment counter at 1, as the migrations
    left it. A TRUNCATE recreates the table (tens of milliseconds each), so only the tables a test
    used are truncated: the ones with a row, or whose counter moved (rows inserted and deleted)."""
    names = [table.name for table in reversed(Base.metadata.sorted_tables)]
    with_rows = " UNION ALL ".join(
        f"SELECT '{name}' FROM DUAL WHERE EXISTS (SELECT 1 FROM `{name}`)" for name in names
    )
    counter_moved = (
        "SELECT table_name FROM information_schema.tables"
        " WHERE table_schema = DATABASE() AND auto_increment > 1"
    )
    async with engine.begin() as connection:
        if not getattr(connection.dialect, "is_mariadb", False):
            # MySQL 8 caches these figures for a day unless told not to
            await connection.execute(text("SET SESSION information_schema_stats_expiry = 0"))
        used = set((await connection.execute(text(with_rows))).scalars())
        used |= set((await connection.execute(text(counter_moved))).scalars())
        if not used:
            return
        await connection.execute(text("SET FOREIGN_KEY_CHECKS=0"))
        for name in names:
            if name in used:
                await connection.execute(text(f"TRUNCATE TABLE `{name}`"))
        await connection.execute(text("SET FOREIGN_KEY_CHECKS=1"))


async def truncate_database(url: str) -> None:
    engine = create_engine(Settings(database_url=url), null_pool=True)
    await truncate_all(engine)
    await engine.dispose()


def database_at_revision(request: pytest.FixtureRequest, tmp_path: Path, name: str, revision: str) -> str:
    """A fresh database of the fixture's backend (`request.param`), migrated only up to `revision`:
    the starting point of a test that puts rows in before a later migration runs."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / f'{name}.db'}"
    else:
        url = run_async(lambda: request.getfixturevalue("mysql_provider").create_database(name))
    command.upgrade(alembic_config(url=url), revision)
    return url


async def execute_statements(url: str, statements: list[str]) -> None:
    """Run `statements` in one transaction through a throwaway engine."""
    engine = create_engine(Settings(database_url=url), null_pool=True)
    try:
        async with engine.begin() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def inspected(url: str, read: Callable[[Inspector], T]) -> T:
    """What `read` finds in the schema of the database at `url` (through a throwaway engine)."""
    engine = create_engine(Settings(database_url=url), null_pool=True)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(lambda sync_connection: read(inspect(sync_connection)))
    finally:
        await engine.dispose()


async def gate_counts(db: async_sessionmaker[AsyncSession], gate_id: int) -> tuple[int, int, int]:
    """A gate's admitted, inside and refused, as its counter rows sum them."""
    async with db() as session:
        row = (await session.execute(select(*counter_sums()).where(GateCounter.gate_id == gate_id))).one()
    return int(row[0]), int(row[1]), int(row[2])


async def waiting_for_row_locks(
    db: async_sessionmaker[AsyncSession], statement: str, *tasks: asyncio.Future[Any]
) -> None:
    """Until as many MariaDB connections of this test's database as there are `tasks` wait for a
    row lock in a statement like `statement` (a LIKE pattern). A statement merely running is not
    enough: it may not have taken, or queued for, any lock yet. Fails if one of the `tasks`, which
    run them, ends first."""
    async with db() as session:
        for _ in range(2000):  # ends as soon as they wait; a loaded machine may be slow
            running = set(
                await session.scalars(
                    text(
                        "SELECT id FROM information_schema.processlist"
                        " WHERE db = DATABASE() AND info LIKE :statement"
                    ),
                    {"statement": statement},
                )
            )
            if len(running & await lock_waiting_threads(session)) >= len(tasks):
                return
            for task in tasks:
                if task.done():
                    raise AssertionError(f"never waited for a lock: {task.result()!r}")
            await asyncio.sleep(0.025)
    raise AssertionError(f"nothing waited for a lock in {statement}")


async def lock_waiting_threads(session: AsyncSession) -> set[int]:
    """The connections (thread ids) whose transaction waits for a lock, as InnoDB's status tells at
    this moment (`information_schema.innodb_trx` is a cache that is not refreshed while it is read
    more often than every 0.1 s)."""
    status = (await session.execute(text("SHOW ENGINE INNODB STATUS"))).one()[2]
    waiting = set()
    for transaction in re.split(r"^---TRANSACTION ", status, flags=re.MULTILINE)[1:]:
        thread = re.search(r"thread id (\d+),", transaction)
        if thread and re.search(r"^LOCK WAIT ", transaction, re.MULTILINE):
            waiting.add(int(thread.group(1)))
    return waiting


async def start_event_ago(db: async_sessionmaker[AsyncSession], event_id: int, ago: dt.timedelta) -> None:
    """Move an event's start into the past, as time passing would."""
    async with db() as session:
        await session.execute(
            update(Event).where(Event.id == event_id).values(starts_at=dt.datetime.now(dt.UTC) - ago)
        )
        await session.commit()
