"""Guess limits against bursts on a real server: each voucher code or transfer recipient is
counted before it is answered, so guesses sent at once get no more answers than the limit, and
a right guess among them, once the limit is taken, is refused (429) instead of answered.

On MariaDB, the events table is locked while the burst arrives: every guess that got past the
limit waits in its work (its first read of the event) until all are either waiting there or
answered, so none is answered before the others were let in or refused."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

import httpx
import pytest
from sqlalchemy import text

from tests.integration.tickets.test_transfer import ticket_row
from tests.integration.tickets.test_voucher_purchase import setup
from tests.support.api import buy, make_actor, make_event
from tests.support.live import live_client, live_servers
from ticketflow.domain.tickets.controller import RECIPIENT_GUESSES_PER_USER, VOUCHER_GUESSES_PER_CLIENT

EXTRA = 5


async def held(session, tasks: Sequence[asyncio.Future[httpx.Response]]) -> None:
    """Until each of the requests waits for the locked table or was answered."""
    for _ in range(4000):  # ends as soon as they all wait or were answered
        waiting = await session.scalar(
            text(
                "SELECT COUNT(*) FROM information_schema.processlist"
                " WHERE state LIKE 'Waiting for table%' AND id <> CONNECTION_ID() AND db = DATABASE()"
            )
        )
        if waiting + sum(task.done() for task in tasks) == len(tasks):
            return
        await asyncio.sleep(0.025)
    raise AssertionError("the burst neither waited nor was answered")


async def burst(
    db,
    guesses: Sequence[Callable[[], Awaitable[httpx.Response]]],
    right: Callable[[], Awaitable[httpx.Response]],
) -> tuple[list[int], httpx.Response]:
    """The guesses' statuses, sent at once while the events table is locked, and the answer to
    the `right` request sent once each guess waits for the table or was answered (the table is
    unlocked once that one too waits or was answered)."""
    async with db() as session:
        await session.execute(text("LOCK TABLES events WRITE"))
        tasks = [asyncio.ensure_future(guess()) for guess in guesses]
        await held(session, tasks)
        last = asyncio.ensure_future(right())
        await held(session, [*tasks, last])
        await session.execute(text("UNLOCK TABLES"))
    return sorted(answer.status_code for answer in await asyncio.gather(*tasks)), await last


async def test_parallel_guesses_get_no_more_answers_than_the_limit(database_url, db, tmp_path) -> None:
    if not database_url.startswith("mysql"):
        pytest.skip("a table lock holds the burst: MariaDB")
    pools = {"DATABASE_POOL_SIZE": "40", "DATABASE_HOT_POOL_SIZE": "40"}  # every request at the lock
    with live_servers(database_url, 1, tmp_path, **pools) as (server,):
        async with live_client(base_url=server.base_url, timeout=120) as http:
            admin = await make_actor(http, db, role="admin")
            ada = await make_actor(http, db)
            grace = await make_actor(http, db)
            event, general, _, _ = await setup(http, admin)
            free = await make_event(http, admin)
            ticket = (await buy(http, ada, free["id"])).json()["tickets"][0]
            url = f"/events/{event['id']}/tickets"
            item = {"items": [{"ticket_type_id": general["id"], "quantity": 1}]}
            moved = f"/tickets/{ticket['id']}/transfer"
            before = await ticket_row(db, ticket["id"])

            def guess_code(n: int) -> Callable[[], Awaitable[httpx.Response]]:
                return lambda: http.post(url, json=item | {"voucher_code": f"GUESS-{n}"}, headers=ada.headers)

            def guess_recipient(n: int) -> Callable[[], Awaitable[httpx.Response]]:
                return lambda: http.post(
                    moved, json={"email": f"nobody-{n}@example.org"}, headers=ada.headers
                )

            codes, right_code = await burst(
                db,
                [guess_code(n) for n in range(VOUCHER_GUESSES_PER_CLIENT + EXTRA)],
                lambda: http.post(url, json=item | {"voucher_code": "SAVE-25"}, headers=ada.headers),
            )
            recipients, registered = await burst(
                db,
                [guess_recipient(n) for n in range(RECIPIENT_GUESSES_PER_USER + EXTRA)],
                lambda: http.post(moved, json={"email": grace.email}, headers=ada.headers),
            )

    assert codes == [422] * VOUCHER_GUESSES_PER_CLIENT + [429] * EXTRA
    assert right_code.status_code == 429
    assert recipients == [422] * RECIPIENT_GUESSES_PER_USER + [429] * EXTRA
    assert registered.status_code == 429
    assert await ticket_row(db, ticket["id"]) == before
