"""No oversell at any level with ticket types: two server processes, mixed orders of several types
and orders with a limited voucher, all at once, on MariaDB and on SQLite.

Two events sell at the same time. On the first the types' own caps (and the voucher's `max_uses`)
are what runs out: each type sells exactly its cap, the voucher is used exactly `max_uses` times.
On the second the event's total runs out first: it sells exactly its capacity, no type above its
cap. Every order is free, so seats only ever go one way and the exact figures follow from the
demand: a refused single-ticket order of a type proves that type (or the event) was full then.
"""

from __future__ import annotations

import asyncio
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from tests.e2e.tickets.test_concurrency import create_admin, login, sign_up_buyers
from tests.support.databases import run_async
from tests.support.factories import event_body
from tests.support.live import LiveServer, live_client, live_servers
from ticketflow.db.config import create_engine
from ticketflow.db.migrate import upgrade_to_head
from ticketflow.db.models.events import Event
from ticketflow.db.models.ticket_types import TicketType
from ticketflow.db.models.tickets import SEAT_TAKING_STATUSES, Ticket
from ticketflow.db.models.vouchers import Voucher
from ticketflow.settings import Settings

pytestmark = pytest.mark.slow

BUYERS = 40
ORDERS_PER_EVENT = 120
VOUCHER = "CREW-PASS"
CAPPED = {"capacity": 200, "early": 10, "vip": 8, "voucher_uses": 6}
"""Types and voucher run out first: 10 + 8 + 6 of 200 seats."""
TOTAL_BOUND = {"capacity": 20, "early": 15, "vip": 15, "voucher_uses": 10}
"""The event's 20 seats run out first (the caps add up to 40)."""


def order_body(index: int, early: int, vip: int, crew: int) -> dict[str, Any]:
    """Mixed orders of one or two types, single-ticket orders of each, and voucher orders."""
    kinds = [
        {early: 1, vip: 1},
        {early: 1},
        {vip: 2},
        {vip: 1},
        {early: 2, crew: 1},
        {crew: 1},
    ]
    lines = kinds[index % len(kinds)]
    body: dict[str, Any] = {"items": [{"ticket_type_id": t, "quantity": q} for t, q in lines.items()]}
    if crew in lines:
        body["voucher_code"] = VOUCHER
    return body


async def sale(
    http: httpx.AsyncClient, base: str, admin: dict[str, str], limits: dict[str, int]
) -> dict[str, int]:
    """An event with types Early (its General type renamed and capped), VIP, hidden Crew, and a
    voucher unlocking Crew for `voucher_uses` orders; returns the ids."""
    created = await http.post(f"{base}/events", json=event_body(capacity=limits["capacity"]), headers=admin)
    event_id = created.json()["id"]
    types_url = f"{base}/events/{event_id}/ticket-types"
    (early,) = [t["id"] for t in (await http.get(types_url)).json()]
    patched = await http.patch(
        f"{base}/ticket-types/{early}", json={"name": "Early", "capacity": limits["early"]}, headers=admin
    )
    assert patched.status_code == 200, patched.text
    vip = await http.post(types_url, json={"name": "VIP", "capacity": limits["vip"]}, headers=admin)
    crew = await http.post(types_url, json={"name": "Crew", "hidden": True}, headers=admin)
    voucher = {"code": VOUCHER, "kind": "percent", "value": 0, "unlocks_hidden": True}
    voucher["max_uses"] = limits["voucher_uses"]
    made = await http.post(f"{base}/events/{event_id}/vouchers", json=voucher, headers=admin)
    assert (vip.status_code, crew.status_code, made.status_code) == (201, 201, 201)
    return {"event": event_id, "early": early, "vip": vip.json()["id"], "crew": crew.json()["id"]}


async def counts(database_url: str, event_id: int) -> dict[str, Any]:
    """Seat-taking tickets per type, the types' and the event's counters, the voucher's uses."""
    engine = create_engine(Settings(database_url=database_url), null_pool=True)
    async with async_sessionmaker(engine)() as session:
        tickets = dict(
            (
                await session.execute(
                    select(Ticket.ticket_type_id, func.count())
                    .where(Ticket.event_id == event_id, Ticket.status.in_(SEAT_TAKING_STATUSES))
                    .group_by(Ticket.ticket_type_id)
                )
            ).all()
        )
        counters = dict(
            (
                await session.execute(
                    select(TicketType.id, TicketType.sold + TicketType.held).where(
                        TicketType.event_id == event_id
                    )
                )
            ).all()
        )
        event = await session.get(Event, event_id)
        uses = await session.scalar(select(Voucher.uses).where(Voucher.event_id == event_id))
    await engine.dispose()
    assert event is not None
    return {
        "tickets": tickets,
        "counters": counters,
        "event": event.tickets_sold + event.tickets_held,
        "uses": uses,
    }


async def run_sales(database_url: str, servers: list[LiveServer]) -> None:
    email, password = await create_admin(database_url)
    async with live_client(timeout=60) as http:
        base = servers[0].base_url
        admin = await login(http, base, email, password)
        buyers = await sign_up_buyers(http, servers, BUYERS)
        capped, bound = await sale(http, base, admin, CAPPED), await sale(http, base, admin, TOTAL_BOUND)
    orders = [(i, ids) for i in range(ORDERS_PER_EVENT) for ids in (capped, bound)]
    # A client of its own for the burst, with room for every order at once.
    async with live_client(timeout=120, max_connections=300) as http:

        async def buy(index: int, ids: dict[str, int]) -> httpx.Response:
            server = servers[index % len(servers)].base_url
            body = order_body(index, ids["early"], ids["vip"], ids["crew"])
            url = f"{server}/events/{ids['event']}/tickets"
            # each buyer from an address of their own (the servers trust the loopback's forwarded
            # addresses): attempt limits count per address, and forty people are not one address
            address = {"X-Forwarded-For": f"10.0.0.{index % BUYERS + 1}"}
            return await http.post(url, json=body, headers=buyers[index % BUYERS] | address)

        responses = await asyncio.gather(*(buy(i, ids) for i, ids in orders))

    for ids in (capped, bound):
        answered = [r for (_, of), r in zip(orders, responses, strict=True) if of is ids]
        statuses = Counter(r.status_code for r in answered)
        assert set(statuses) <= {201, 409, 422}, statuses
        refused = [r for r in answered if r.status_code == 422]
        refusals = {r.json().get("extra", {}).get("reason") or r.text for r in refused}
        assert refusals <= {"voucher_used_up"}, refusals
        bought = Counter(
            t["ticket_type_id"] for r in answered if r.status_code == 201 for t in r.json()["tickets"]
        )
        found = await counts(database_url, ids["event"])
        assert found["tickets"] == found["counters"] == dict(bought), found
        assert found["event"] == sum(bought.values())
        limits = CAPPED if ids is capped else TOTAL_BOUND
        by_name = {name: bought[ids[name]] for name in ("early", "vip", "crew")}
        if ids is capped:
            assert by_name == {"early": 10, "vip": 8, "crew": 6}, by_name
        else:
            assert sum(by_name.values()) == limits["capacity"], by_name
            assert by_name["early"] <= limits["early"], by_name
            assert by_name["vip"] <= limits["vip"], by_name
        assert found["uses"] == by_name["crew"] <= limits["voucher_uses"]


@pytest.mark.mysql
def test_two_processes_on_mariadb_sell_each_cap_exactly(mysql_provider, tmp_path: Path) -> None:
    database_url = run_async(lambda: mysql_provider.create_database("tf_types_live"))
    upgrade_to_head(database_url)
    with live_servers(database_url, 2, tmp_path) as servers:
        run_async(lambda: run_sales(database_url, servers))
        for server in servers:
            assert "Traceback" not in server.log()


def test_two_processes_on_sqlite_sell_each_cap_exactly(sqlite_template, tmp_path: Path) -> None:
    path = tmp_path / "live.db"
    shutil.copyfile(sqlite_template, path)
    database_url = f"sqlite+aiosqlite:///{path}"
    with live_servers(database_url, 2, tmp_path) as servers:
        run_async(lambda: run_sales(database_url, servers))
        for server in servers:
            assert "Traceback" not in server.log()
