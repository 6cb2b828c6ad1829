"""Cancellations that race: two server processes on MariaDB, double clicks and a holder's two
tickets cancelled at once, while an admin edits the ticket type and buyers keep buying.

Each request reads what it cancels after taking the event's lock, not from the snapshot MariaDB
gave it before it waited there: a whole order is cancelled once (the other clicks find it closed),
the last ticket cancelled closes its order, every counter moves once, and a type's edit during
the sale waits its turn instead of deadlocking a buyer.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from tests.e2e.tickets.test_concurrency import create_admin, login, sign_up_buyers
from tests.e2e.tickets.test_type_concurrency import counts
from tests.support.factories import event_body
from tests.support.live import LiveServer, live_client, run_on_mariadb_servers
from ticketflow.db.config import create_engine
from ticketflow.db.models.orders import Order
from ticketflow.settings import Settings

pytestmark = [pytest.mark.slow, pytest.mark.mysql]

ORDERS = 24
"""Orders of two tickets: half cancelled whole by three clicks at once, half ticket by ticket."""
CLICKS = 3
LATE_BUYERS = 16


async def order_statuses(database_url: str, order_ids: list[int]) -> Counter[str]:
    engine = create_engine(Settings(database_url=database_url), null_pool=True)
    async with async_sessionmaker(engine)() as session:
        statuses = Counter(await session.scalars(select(Order.status).where(Order.id.in_(order_ids))))
    await engine.dispose()
    return statuses


async def cancel_race(database_url: str, servers: list[LiveServer]) -> None:
    email, password = await create_admin(database_url)
    async with live_client(timeout=120, max_connections=300) as http:
        base = servers[0].base_url
        admin = await login(http, base, email, password)
        buyers = await sign_up_buyers(http, servers, ORDERS)
        created = await http.post(
            f"{base}/events", json=event_body(capacity=200, max_per_order=4), headers=admin
        )
        event_id = created.json()["id"]
        (type_id,) = [t["id"] for t in created.json()["ticket_types"]]
        capped = await http.patch(f"{base}/ticket-types/{type_id}", json={"capacity": 120}, headers=admin)
        assert capped.status_code == 200, capped.text
        buy_url = f"/events/{event_id}/tickets"
        bought = [
            (await http.post(f"{base}{buy_url}", json={"quantity": 2}, headers=buyer)).json()
            for buyer in buyers
        ]
        whole, by_ticket = bought[: ORDERS // 2], bought[ORDERS // 2 :]

        def server(index: int) -> str:
            return servers[index % len(servers)].base_url

        async def cancel_order(index: int, purchase: dict[str, Any], buyer: dict[str, str]) -> httpx.Response:
            return await http.post(f"{server(index)}/orders/{purchase['order']['id']}/cancel", headers=buyer)

        async def cancel_ticket(index: int, ticket: dict[str, Any], buyer: dict[str, str]) -> httpx.Response:
            return await http.post(f"{server(index)}/tickets/{ticket['id']}/cancel", headers=buyer)

        async def rename(index: int) -> httpx.Response:
            body = {"name": f"General admission {index}"}
            return await http.patch(f"{server(index)}/ticket-types/{type_id}", json=body, headers=admin)

        async def late_buy(index: int) -> httpx.Response:
            buyer = buyers[index % ORDERS] | {"X-Forwarded-For": f"10.0.1.{index + 1}"}
            return await http.post(f"{server(index)}{buy_url}", json={"quantity": 1}, headers=buyer)

        clicks = [
            cancel_order(i * CLICKS + click, purchase, buyers[i])
            for i, purchase in enumerate(whole)
            for click in range(CLICKS)
        ]
        singles = [
            cancel_ticket(i * 2 + n, ticket, buyers[ORDERS // 2 + i])
            for i, purchase in enumerate(by_ticket)
            for n, ticket in enumerate(purchase["tickets"])
        ]
        others = [rename(i) for i in range(8)] + [late_buy(i) for i in range(LATE_BUYERS)]
        answers = await asyncio.gather(*clicks, *singles, *others)

    clicked = answers[: len(clicks)]
    for i in range(len(whole)):
        group = clicked[i * CLICKS : (i + 1) * CLICKS]
        assert sorted(a.status_code for a in group) == [200] + [409] * (CLICKS - 1), [a.text for a in group]
    single_answers = answers[len(clicks) : len(clicks) + len(singles)]
    assert [a.status_code for a in single_answers] == [200] * len(singles), [a.text for a in single_answers]
    rest = answers[len(clicks) + len(singles) :]
    assert {a.status_code for a in rest} == {200, 201}, [a.text for a in rest if a.status_code >= 300]
    order_ids = [p["order"]["id"] for p in bought]
    assert await order_statuses(database_url, order_ids) == Counter({"cancelled": ORDERS})
    found = await counts(database_url, event_id)
    assert found["tickets"] == found["counters"] == {type_id: LATE_BUYERS}, found
    assert found["event"] == LATE_BUYERS


def test_racing_cancellations_count_once_on_two_processes(mysql_provider, tmp_path: Path) -> None:
    run_on_mariadb_servers(mysql_provider, tmp_path, "tf_cancel_race", cancel_race)
