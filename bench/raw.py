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
from ticketflow.domain.checkin.statements import ADMIT, RECORD_SCAN, SELECT_ROLE, SELECT_SCANNED
from ticketflow.domain.notifications.statements import INSERT_MESSAGE, OUTBOX_COLUMNS
from ticketflow.domain.tickets.purchase import purchase_fingerprint
from ticketflow.domain.tickets.statements import (
    INSERT_ACTIVE_TICKET,
    INSERT_ORDER_LINE,
    INSERT_PAID_ORDER,
    SELECT_BUYER,
    SELECT_SALE_STATE,
    SELECT_SALE_TYPES,
    SELECT_UNSIGNED_TICKETS,
    SET_CODE,
    TAKE_SOLD_SEATS,
    TAKE_TYPE_SOLD_SEATS,
)
from ticketflow.lib.signed_codes import DEVELOPMENT_KEY, DEVELOPMENT_KID, TicketSigner
from ticketflow.lib.ticket_codes import PLACEHOLDER_LIKE, sign_new, unsigned_placeholder


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
        result = "valid" if admitted else "already_used"
        scan = (row[0], row[2], None, code, result, None, scanner_id)
        await cursor.execute(RECORD_SCAN, (*scan, None, None, now))  # not a device, at no gate
        return 200 if admitted else 409

    return transaction


def purchase_transaction(event_id: int) -> Callable[[Any, int], Awaitable[int]]:
    """The statements of a free single-ticket purchase (`buy_free_tickets`), verbatim: the buyer,
    the sale state and its type (sold out: stop here), the seat, the order, its line, the ticket,
    the ticket's signed code, its e-mail."""
    signer = TicketSigner(((DEVELOPMENT_KID, DEVELOPMENT_KEY),))

    async def transaction(cursor: Any, buyer_id: int) -> int:
        now = naive_utc_now()
        await cursor.execute(SELECT_BUYER, (buyer_id,))
        _, email, name = await cursor.fetchone()
        await cursor.execute(SELECT_SALE_STATE, (event_id,))
        state = await cursor.fetchone()
        await cursor.execute(SELECT_SALE_TYPES, (event_id, True, False))
        type_id, type_name, price, tax_rate, *_ = (await cursor.fetchall())[0]
        if state[5] - state[6] - state[7] < 1:
            return 409
        await cursor.execute(TAKE_SOLD_SEATS, (1, now, event_id, now, 1))
        if cursor.rowcount != 1:
            return 409
        await cursor.execute(TAKE_TYPE_SOLD_SEATS, (1, now, type_id, 1))
        await cursor.execute(
            INSERT_PAID_ORDER,
            (buyer_id, event_id, 1, state[9], now, purchase_fingerprint(event_id, 1), None, None, now, now),
        )
        order_id = cursor.lastrowid
        await cursor.execute(INSERT_ORDER_LINE, (order_id, type_id, type_name, 1, price, 0, tax_rate, price))
        await cursor.execute(
            INSERT_ACTIVE_TICKET, (order_id, buyer_id, event_id, type_id, unsigned_placeholder(), now, now)
        )
        message = {
            "kind": "tickets", "status": "pending", "message_id": f"<{uuid.uuid4().hex}@bench>",
            "recipient": email, "recipient_name": name, "user_id": buyer_id, "event_id": event_id,
            "order_id": order_id, "ticket_id": None, "payload": "{}", "attempts": 0,
            "next_attempt_at": now, "created_at": now, "updated_at": now,
        }  # fmt: skip
        await cursor.execute(INSERT_MESSAGE, [message[column] for column in OUTBOX_COLUMNS])
        await cursor.execute(SELECT_UNSIGNED_TICKETS, (order_id, PLACEHOLDER_LIKE))
        (ticket,) = sign_new(signer, await cursor.fetchall())
        await cursor.execute(SET_CODE, (ticket.id, ticket.code, ticket.id))
        return 201

    return transaction
