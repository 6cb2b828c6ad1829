"""Connections for the two hot paths (door validation, the start of a purchase).

On MySQL/MariaDB these paths check out connections from asyncmy's own pool instead of
SQLAlchemy's: a checkout there costs a few dozen microseconds against ~150 (pool events, the
greenlet bridge, the pre-ping round trip). What SQLAlchemy's pool gave them is kept:

* the same connection arguments (the dialect's own translation of `DATABASE_URL`, so the
  charset, TLS options and `FOUND_ROWS` flag are identical);
* liveness: a connection idle for longer than `PING_AFTER_IDLE_SECONDS` is pinged before use
  and replaced when the ping fails; connections older than the recycle time are replaced;
* fairness: when every connection is busy, requests get the next free one in arrival order
  (asyncmy's pool lets a newcomer take a connection before earlier waiters);
* a clean hand-back: every transaction ends in COMMIT or ROLLBACK, and a connection whose state
  is unknown (cancelled mid-statement, lost, timed out) is closed, never reused.

On SQLite (one file, one writer) the hot paths keep SQLAlchemy's pool, which also applies the
`BEGIN IMMEDIATE` rule of `db.config`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

import asyncmy
from asyncmy.errors import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from ticketflow.db.driver import DriverConnection, deadlock, driver_transaction

PING_AFTER_IDLE_SECONDS = 2.0
"""A connection unused for longer is pinged before its next transaction (a busy door never is)."""
RECYCLE_SECONDS = 1800
"""The same recycle time as SQLAlchemy's pool (`db.config`)."""
_CONNECTION_UNUSABLE = (OperationalError, InterfaceError, OSError, asyncio.CancelledError)
"""Errors after which the connection's protocol state is unknown: close it, do not roll back."""


class DriverPool(Protocol):
    """Driver connections in a transaction: committed on success, rolled back on error."""

    def transaction(self) -> AbstractAsyncContextManager[DriverConnection]: ...

    async def close(self) -> None: ...


class EngineDriverPool:
    """The driver under SQLAlchemy's pooled connections (SQLite, and any other database)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    def transaction(self) -> AbstractAsyncContextManager[DriverConnection]:
        return driver_transaction(self.engine)

    async def close(self) -> None:
        """Nothing of its own to close: the engine's pool is disposed with the engine."""


class AsyncmyDriverPool:
    """asyncmy's pool, opened on first use in the running event loop (one per loop)."""

    def __init__(self, connect_arguments: dict[str, Any], size: int) -> None:
        self.connect_arguments = connect_arguments
        self.size = size
        self._pool: Any = None
        self._turns = asyncio.Semaphore(size)
        """First come, first served: at most `size` transactions hold or wait for a connection."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._opening = asyncio.Lock()

    async def _open(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._pool is not None and self._loop is loop:
            return self._pool
        async with self._opening:
            if self._pool is None or self._loop is not loop:
                # A pool belongs to the loop it was made in (tests run several loops in turn).
                self._pool = await asyncmy.create_pool(
                    minsize=0, maxsize=self.size, pool_recycle=RECYCLE_SECONDS, **self.connect_arguments
                )
                self._turns = asyncio.Semaphore(self.size)
                self._loop = loop
        return self._pool

    async def _checkout(self, pool: Any) -> Any:
        """A live connection: pinged first when it has been idle (the server may have dropped it)."""
        loop = asyncio.get_running_loop()
        for _ in range(self.size + 1):
            connection = await pool.acquire()
            if loop.time() - connection.last_usage <= PING_AFTER_IDLE_SECONDS:
                return connection
            try:
                await connection.ping(reconnect=False)
            except (OperationalError, InterfaceError, OSError):
                connection.close()
                pool.release(connection)
                continue
            except BaseException:  # cancelled while pinging: the connection's state is unknown
                connection.close()
                pool.release(connection)
                raise
            return connection
        msg = "no live database connection in the pool"
        raise OperationalError(2006, msg)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[DriverConnection]:
        pool = await self._open()
        async with self._turns:
            connection = await self._checkout(pool)
            try:
                yield DriverConnection(connection, "mysql")
                await connection.commit()
            except BaseException as error:
                if deadlock(error):  # rolled back by the server, the connection fine: keep it
                    await _rollback_or_close(connection)
                elif isinstance(error, _CONNECTION_UNUSABLE) or not isinstance(error, Exception):
                    connection.close()
                else:
                    await _rollback_or_close(connection)
                raise
            finally:
                pool.release(connection)

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if self._loop is asyncio.get_running_loop():
            pool.close()
            await pool.wait_closed()
        # A pool of another (finished) loop went with that loop's transports.


async def _rollback_or_close(connection: Any) -> None:
    """Roll back after a refused step; a connection that cannot even do that is closed."""
    try:
        await connection.rollback()
    except Exception:
        connection.close()
    except BaseException:
        connection.close()
        raise


def create_driver_pool(engine: AsyncEngine, size: int) -> DriverPool:
    """asyncmy's pool on MySQL/MariaDB, SQLAlchemy's elsewhere."""
    if engine.dialect.driver != "asyncmy":
        return EngineDriverPool(engine)
    _, arguments = engine.dialect.create_connect_args(engine.url)
    return AsyncmyDriverPool(dict(arguments), size)
