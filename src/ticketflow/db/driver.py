"""Statements straight through the database driver, for the two hot paths.

Door validation and the sold-out answer of a flash sale run a handful of fixed statements per
request. Through SQLAlchemy's async layer each statement costs several times the driver's own
work (measured: ~4x on the validation transaction), so these paths take the pooled connection's
driver connection (asyncmy on MySQL/MariaDB, aiosqlite on SQLite) and speak to it directly. The
connection still comes from, and returns to, SQLAlchemy's pool (pre-ping, recycling, reset).

SQL is written once with `%s` placeholders and portable syntax; SQLite gets `?`. Times are bound
as naive UTC text in the storage format `UTCDateTime` uses (MySQL/MariaDB read the same text as a
DATETIME; asyncmy quotes a `datetime` several times slower than a string, which a batch of a
thousand times feels), and read back timezone-aware.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from asyncmy.constants.ER import DUP_ENTRY, LOCK_DEADLOCK, NO_REFERENCED_ROW_2
from asyncmy.errors import IntegrityError, OperationalError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ticketflow.db.types import from_stored_utc, to_stored_utc

SQLITE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
T = TypeVar("T")
DEADLOCK_ATTEMPTS = 3
"""How often a transaction MySQL/MariaDB chose as a deadlock victim is run in all (`again_if_deadlocked`)."""


class DriverConnection:
    """One transaction's worth of statements on a driver connection."""

    def __init__(self, driver: Any, dialect: str) -> None:
        self._driver = driver
        self._sqlite = dialect == "sqlite"
        self._cursor: Any = None
        """MySQL: one buffered cursor serves every statement of the transaction."""
        self.returns_inserted_rows = returning(driver, dialect)
        """`INSERT ... RETURNING` works here (SQLite >= 3.35, MariaDB >= 10.5; not MySQL 8)."""

    @property
    def is_sqlite(self) -> bool:
        """SQLite: one writer at a time, no `FOR UPDATE`, no isolation levels to choose."""
        return self._sqlite

    def _sql(self, statement: str) -> str:
        return statement.replace("%s", "?") if self._sqlite else statement

    def bind_time(self, value: dt.datetime) -> Any:
        if value.tzinfo is dt.UTC and not self._sqlite:  # most times: the text without its offset
            return value.isoformat(" ")[:-6]
        naive = to_stored_utc(value)
        return naive.strftime(SQLITE_TIME_FORMAT) if self._sqlite else naive.isoformat(" ")

    @staticmethod
    def read_time(value: dt.datetime | str | None) -> dt.datetime | None:
        return None if value is None else from_stored_utc(value)

    async def execute(self, statement: str, params: Sequence[Any]) -> int:
        """Run a statement; returns the number of rows it matched."""
        cursor = await self._run(statement, params)
        count = int(cursor.rowcount)
        if self._sqlite:
            await cursor.close()
        return count

    async def insert(self, statement: str, params: Sequence[Any]) -> int:
        """Run an INSERT of one row; returns the row's new id."""
        cursor = await self._run(statement, params)
        row_id = int(cursor.lastrowid)
        if self._sqlite:
            await cursor.close()
        return row_id

    async def insert_then(
        self, insert: str, params: Sequence[Any], *after: tuple[str, Sequence[Any]]
    ) -> tuple[int, list[tuple[Any, ...]]]:
        """An INSERT of one row, then statements that may name the row's id in SQL (MySQL's
        `LAST_INSERT_ID()`, SQLite's `last_insert_rowid()`); returns the row's id and the rows the
        last of them read (none when it reads none).

        On MySQL/MariaDB all of them go in one request (asyncmy's connections allow several
        statements in one): one round trip instead of one each. SQLite runs them one after the
        other. An error in any raises, and the transaction around them is rolled back whole."""
        rows: Sequence[Any] = ()
        if self._sqlite:
            row_id = await self.insert(insert, params)
            for statement, values in after:
                cursor = await self._run(statement, values)
                rows = await cursor.fetchall()
                await cursor.close()
            return row_id, [tuple(row) for row in rows]
        text = "; ".join([insert, *(statement for statement, _ in after)])
        cursor = await self._run(text, [*params, *(value for _, values in after for value in values)])
        row_id = int(cursor.lastrowid)
        for _ in after:
            await cursor.nextset()  # each statement's result in turn (its error, if it failed)
            rows = await cursor.fetchall() if cursor.description else ()
        return row_id, [tuple(row) for row in rows]

    async def fetch_each(self, *statements: tuple[str, Sequence[Any]]) -> list[list[tuple[Any, ...]]]:
        """Statements in order, each one's rows (none for a statement that reads none).

        On MySQL/MariaDB all of them go in one request (one round trip, as `insert_then`); the
        database stops at the first that fails, and its error is raised here. SQLite runs them
        one after the other."""
        found: list[list[tuple[Any, ...]]] = []
        if self._sqlite:
            for statement, params in statements:
                cursor = await self._run(statement, params)
                found.append([tuple(row) for row in await cursor.fetchall()] if cursor.description else [])
                await cursor.close()
            return found
        text = "; ".join(statement for statement, _ in statements)
        cursor = await self._run(text, [value for _, params in statements for value in params])
        for index in range(len(statements)):
            if index:
                await cursor.nextset()  # each statement's result in turn (its error, if it failed)
            found.append([tuple(row) for row in await cursor.fetchall()] if cursor.description else [])
        return found

    async def fetchone(self, statement: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
        cursor = await self._run(statement, params)
        row = await cursor.fetchone()
        if self._sqlite:
            await cursor.close()
        return None if row is None else tuple(row)

    async def fetchall(self, statement: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        cursor = await self._run(statement, params)
        rows = await cursor.fetchall()
        if self._sqlite:
            await cursor.close()
        return [tuple(row) for row in rows]

    async def _run(self, statement: str, params: Sequence[Any]) -> Any:
        """The cursor that ran `statement`: on SQLite a new one (closed by the caller), on MySQL
        the transaction's one buffered cursor."""
        if self._sqlite:
            return await self._driver.execute(self._sql(statement), tuple(params))
        if self._cursor is None:
            self._cursor = self._driver.cursor()
        await self._cursor.execute(statement, tuple(params))
        return self._cursor


def duplicate_key(error: BaseException, table: str, columns: Sequence[str]) -> bool:
    """Whether `error` is the unique key of `table` on `columns` refusing a row, and no other
    error: MySQL/MariaDB's 1062 naming the key (`uq_<table>_<columns>`, the models' naming
    convention), SQLite's UNIQUE naming its columns."""
    if isinstance(error, sqlite3.IntegrityError):
        return str(error) == "UNIQUE constraint failed: " + ", ".join(f"{table}.{name}" for name in columns)
    message = _mysql_refusal(error, DUP_ENTRY)
    key = "_".join(("uq", table, *columns))
    # MariaDB "... for key 'uq_...'", MySQL "... for key 't.uq_...'"
    return message is not None and message.endswith(f"{key}'")


def missing_parent(error: BaseException, table: str, column: str, parent: str) -> bool:
    """Whether `error` is the foreign key of `table.column` to `parent` refusing a row because the
    row it names is not there (any more), and no other error: MySQL/MariaDB's 1452 naming the key
    (`fk_<table>_<column>_<parent>`, the models' naming convention).

    Never on SQLite, whose refusal names no key ("FOREIGN KEY constraint failed"): there the
    callers' transactions start with the only writer's lock (`BEGIN IMMEDIATE`), so a parent they
    read cannot be deleted before they write."""
    message = _mysql_refusal(error, NO_REFERENCED_ROW_2)
    key = f"fk_{table}_{column}_{parent}"
    return message is not None and f"`{table}`, CONSTRAINT `{key}` FOREIGN KEY (`{column}`)" in message


def deadlock(error: BaseException) -> bool:
    """Whether `error` is MySQL/MariaDB's 1213 (`ER_LOCK_DEADLOCK`), and no other error: the
    server chose this transaction as a deadlock's victim and rolled it back whole (InnoDB), so
    running it again from its start is safe. asyncmy raises it as an `OperationalError`;
    SQLAlchemy wraps that in its own `OperationalError` (`DBAPIError.orig`). Never on SQLite,
    whose one writer (`BEGIN IMMEDIATE`) closes no cycle."""
    cause = error.orig if isinstance(error, DBAPIError) else error
    return isinstance(cause, OperationalError) and bool(cause.args) and cause.args[0] == LOCK_DEADLOCK


class DeadlockedEveryAttempt(Exception):
    """Every attempt of a transaction (`again_if_deadlocked`) was rolled back as a deadlock's
    victim: nothing of it stays, and the request that ran it may be sent again (503)."""


async def again_if_deadlocked(
    transaction: Callable[[], Awaitable[T]], attempts: int = DEADLOCK_ATTEMPTS
) -> T:
    """`transaction()`'s answer, run again (at most `attempts` times in all) while MySQL/MariaDB
    rolls it back as a deadlock's victim (`deadlock`); after the last attempt,
    `DeadlockedEveryAttempt` (from the last error). Each attempt must be a whole, fresh
    transaction (the victim's was rolled back, with everything it wrote). Any other error goes
    through at once. Nothing more is run when the first attempt succeeds."""
    for _ in range(attempts - 1):
        try:
            return await transaction()
        except Exception as error:
            if not deadlock(error):
                raise
    try:
        return await transaction()
    except Exception as error:
        if deadlock(error):
            raise DeadlockedEveryAttempt(f"a deadlock's victim {attempts} times") from error
        raise


def _mysql_refusal(error: BaseException, code: int) -> str | None:
    """The message of MySQL/MariaDB's integrity error `code`, if `error` is one."""
    if not isinstance(error, IntegrityError) or len(error.args) < 2 or error.args[0] != code:
        return None
    return str(error.args[1])


def returning(driver: Any, dialect: str) -> bool:
    """Whether the database behind `driver` answers `INSERT ... RETURNING`."""
    if dialect == "sqlite":
        return sqlite3.sqlite_version_info >= (3, 35, 0)
    server = str(driver.get_server_info()) if hasattr(driver, "get_server_info") else ""
    version = re.match(r"(\d+)\.(\d+)", server.removeprefix("5.5.5-"))  # MariaDB 10's handshake prefix
    if "mariadb" not in server.lower() or version is None:
        return False
    return (int(version[1]), int(version[2])) >= (10, 5)


async def driver_of(connection: AsyncConnection) -> DriverConnection:
    """The driver under a pooled SQLAlchemy connection (outside any SQLAlchemy transaction)."""
    fairy = await connection.get_raw_connection()
    return DriverConnection(fairy.driver_connection, connection.dialect.name)


@asynccontextmanager
async def driver_transaction(engine: AsyncEngine) -> AsyncIterator[DriverConnection]:
    """A pooled connection's driver inside a transaction committed on success, rolled back on error.

    SQLAlchemy opens and ends the transaction (on SQLite its `BEGIN IMMEDIATE`, see db.config), so
    the pool knows the connection comes back clean and skips its reset round trip.
    """
    async with engine.connect() as connection, connection.begin():
        yield await driver_of(connection)
