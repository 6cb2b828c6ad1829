"""Baselines: the same SQL statements the app runs, straight through the asyncmy driver.

No HTTP, no framework, no ORM: what the database and driver alone can do at the same concurrency.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncmy
from sqlalchemy.engine import make_url

from bench.loadgen import LoadResult
from ticketflow.domain.checkin.service import ADMIT, RECORD_SCAN, SELECT_SCANNED
from ticketflow.domain.tickets.codes import new_ticket_code
from ticketflow.domain.tickets.purchase import SELECT_SALE_STATE
from ticketflow.lib.bearer import SELECT_ROLE


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
    """The statements of `CheckInService.validate_ticket`, verbatim."""

    async def transaction(cursor: Any, code: str) -> int:
        now = naive_utc_now()
        await cursor.execute(SELECT_ROLE, (scanner_id,))
        await cursor.fetchone()
        await cursor.execute(ADMIT, (now, now, code))
        admitted = cursor.rowcount == 1
        await cursor.execute(SELECT_SCANNED, (code,))
        row = await cursor.fetchone()
        await cursor.execute(
            RECORD_SCAN,
            (row[0], row[2], None, code, "valid" if admitted else "already_used", None, scanner_id, now),
        )
        return 200 if admitted else 409

    return transaction


def purchase_transaction(event_id: int) -> Callable[[Any, int], Awaitable[int]]:
    """The statements of a free single-ticket purchase: pre-check, seat, order, ticket, e-mail."""

    async def transaction(cursor: Any, buyer_id: int) -> int:
        now = naive_utc_now()
        await cursor.execute(SELECT_ROLE, (buyer_id,))
        await cursor.fetchone()
        await cursor.execute(SELECT_SALE_STATE, (event_id,))
        state = await cursor.fetchone()
        if state[5] - state[6] - state[7] < 1:
            return 409
        await cursor.execute("SELECT * FROM events WHERE id = %s", (event_id,))
        await cursor.fetchone()
        await cursor.execute(
            "UPDATE events SET tickets_sold = tickets_sold + 1 WHERE id = %s AND status = 'scheduled'"
            " AND starts_at > %s AND capacity - tickets_sold - tickets_held >= 1",
            (event_id, now),
        )
        if cursor.rowcount != 1:
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
        await cursor.execute(
            "SELECT users.id, users.email, users.name, orders.event_id FROM users"
            " JOIN orders ON orders.user_id = users.id WHERE orders.id = %s",
            (order_id,),
        )
        holder = await cursor.fetchone()
        await cursor.execute(
            "INSERT INTO outbox_messages (kind, status, message_id, recipient, recipient_name, user_id,"
            " event_id, order_id, payload, attempts, next_attempt_at, created_at, updated_at)"
            " VALUES ('tickets', 'pending', %s, %s, %s, %s, %s, %s, '{}', 0, %s, %s, %s)",
            (
                f"<{uuid.uuid4().hex}@bench>",
                holder[1],
                holder[2],
                holder[0],
                event_id,
                order_id,
                now,
                now,
                now,
            ),
        )
        await cursor.execute("SELECT * FROM orders WHERE id = %s", (order_id,))
        await cursor.fetchone()
        await cursor.execute("SELECT * FROM tickets WHERE order_id = %s", (order_id,))
        await cursor.fetchall()
        return 201

    return transaction
