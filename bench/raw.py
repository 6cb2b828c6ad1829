"""Baselines: the same SQL statements the app runs, straight through the asyncmy driver.

No HTTP, no framework, no ORM: what the database and driver alone can do at the same concurrency.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncmy
from sqlalchemy.engine import make_url

from bench.loadgen import LoadResult
from ticketflow.domain.tickets.codes import new_ticket_code

SELECT_USER = "SELECT id, name, email, password_hash, role, created_at, updated_at FROM users WHERE id = %s"


def naive_utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


async def connect(url: str) -> Any:
    parts = make_url(url)
    return await asyncmy.connect(
        host=parts.host,
        port=parts.port or 3306,
        user=parts.username,
        password=parts.password or "",
        database=parts.database,
        charset="utf8mb4",
        autocommit=False,
    )


async def run_raw(
    url: str, items: Sequence[Any], concurrency: int, transaction: Callable[[Any, Any], Awaitable[int]]
) -> LoadResult:
    """Run `transaction(cursor, item)` for every item on `concurrency` connections."""
    result = LoadResult()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)
    connections = [await connect(url) for _ in range(concurrency)]

    async def worker(connection: Any) -> None:
        while True:
            try:
                item = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            started = time.perf_counter()
            async with connection.cursor() as cursor:
                status = await transaction(cursor, item)
            await connection.commit()
            result.latencies.append(time.perf_counter() - started)
            result.statuses[status] += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in connections))
    result.elapsed = time.perf_counter() - started
    for connection in connections:
        connection.close()
    return result


def validation_transaction(scanner_id: int) -> Callable[[Any, str], Awaitable[int]]:
    async def transaction(cursor: Any, code: str) -> int:
        now = naive_utc_now()
        await cursor.execute(SELECT_USER, (scanner_id,))
        await cursor.fetchone()
        await cursor.execute(
            "UPDATE tickets SET status='used', used_at=%s, updated_at=%s WHERE code=%s AND status='active'"
            " AND event_id IN (SELECT id FROM events WHERE status='scheduled')",
            (now, now, code),
        )
        admitted = cursor.rowcount == 1
        await cursor.execute(
            "SELECT tickets.id, tickets.event_id, tickets.status, tickets.used_at, events.title, events.status,"
            " users.name FROM tickets JOIN events ON events.id = tickets.event_id"
            " JOIN users ON users.id = tickets.user_id WHERE tickets.code = %s",
            (code,),
        )
        row = await cursor.fetchone()
        await cursor.execute(
            "INSERT INTO check_ins (ticket_id, event_id, door_event_id, scanned_code, result, reason,"
            " scanned_by_id, scanned_at) VALUES (%s, %s, NULL, %s, %s, NULL, %s, %s)",
            (row[0], row[1], code, "valid" if admitted else "already_used", scanner_id, now),
        )
        return 200 if admitted else 409

    return transaction


def purchase_transaction(event_id: int) -> Callable[[Any, int], Awaitable[int]]:
    async def transaction(cursor: Any, buyer_id: int) -> int:
        now = naive_utc_now()
        await cursor.execute(SELECT_USER, (buyer_id,))
        await cursor.fetchone()
        await cursor.execute("SELECT * FROM events WHERE id = %s", (event_id,))
        await cursor.fetchone()
        await cursor.execute(
            "UPDATE events SET tickets_sold = tickets_sold + 1 WHERE id = %s AND status = 'scheduled'"
            " AND starts_at > %s AND capacity - tickets_sold - tickets_held >= 1",
            (event_id, now),
        )
        if cursor.rowcount != 1:
            await cursor.execute(
                "SELECT capacity, tickets_sold, tickets_held FROM events WHERE id = %s", (event_id,)
            )
            await cursor.fetchone()
            return 409
        await cursor.execute(
            "INSERT INTO orders (user_id, event_id, quantity, amount_cents, currency, status, paid_at,"
            " refunded_cents, created_at, updated_at) VALUES (%s, %s, 1, 0, 'EUR', 'paid', %s, 0, %s, %s)",
            (buyer_id, event_id, now, now, now),
        )
        order_id = cursor.lastrowid
        await cursor.execute(
            "INSERT INTO tickets (order_id, user_id, event_id, code, status, created_at, updated_at)"
            " VALUES (%s, %s, %s, %s, 'active', %s, %s)",
            (order_id, buyer_id, event_id, new_ticket_code(), now, now),
        )
        await cursor.execute("SELECT * FROM tickets WHERE order_id = %s", (order_id,))
        await cursor.fetchall()
        return 201

    return transaction
