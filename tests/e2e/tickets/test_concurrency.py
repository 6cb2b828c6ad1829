"""Overselling and double admission under real concurrency: real servers, many simultaneous requests.

On MariaDB two server processes share the database (the guarantees must hold across processes);
on SQLite one process serves (the embedded default).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from tests.support.api import TEST_PASSWORDS
from tests.support.databases import run_async
from tests.support.factories import event_body, user_body
from tests.support.live import LiveServer, live_client, live_servers, run_on_mariadb_servers
from ticketflow.db.config import create_engine
from ticketflow.db.models.events import Event
from ticketflow.db.models.tickets import Ticket
from ticketflow.db.models.users import Role
from ticketflow.domain.accounts.service import AccountService
from ticketflow.settings import Settings

pytestmark = pytest.mark.slow

BUYERS = 60
REQUESTS = 300
CAPACITY = 100
HELD_CAP = 4


async def create_admin(database_url: str) -> tuple[str, str]:
    engine = create_engine(Settings(database_url=database_url), null_pool=True)
    body = user_body()
    async with async_sessionmaker(engine)() as session:
        await AccountService(session, TEST_PASSWORDS).create_user(
            name="Door Admin", email=body["email"], password=body["password"], role=Role.ADMIN
        )
    await engine.dispose()
    return body["email"], body["password"]


async def inventory(database_url: str, event_id: int) -> tuple[int, int, Counter[str]]:
    """(live tickets, event.tickets_sold, tickets by status) read straight from the database."""
    engine = create_engine(Settings(database_url=database_url), null_pool=True)
    async with async_sessionmaker(engine)() as session:
        statuses = Counter(
            dict(
                (
                    await session.execute(
                        select(Ticket.status, func.count())
                        .where(Ticket.event_id == event_id)
                        .group_by(Ticket.status)
                    )
                ).all()
            )
        )
        sold = int(await session.scalar(select(Event.tickets_sold).where(Event.id == event_id)) or 0)
    await engine.dispose()
    return statuses["active"] + statuses["used"] + statuses["pending"], sold, statuses


async def login(http: httpx.AsyncClient, base_url: str, email: str, password: str) -> dict[str, str]:
    response = await http.post(f"{base_url}/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def sign_up_buyers(
    http: httpx.AsyncClient, servers: list[LiveServer], count: int
) -> list[dict[str, str]]:
    async def one(index: int) -> dict[str, str]:
        base = servers[index % len(servers)].base_url
        body = user_body()
        assert (await http.post(f"{base}/register", json=body)).status_code == 201
        return await login(http, base, body["email"], body["password"])

    return list(await asyncio.gather(*(one(i) for i in range(count))))


async def run_scenario(database_url: str, servers: list[LiveServer]) -> None:
    email, password = await create_admin(database_url)
    async with live_client(timeout=120, max_connections=400) as http:
        admin = await login(http, servers[0].base_url, email, password)
        buyers = await sign_up_buyers(http, servers, BUYERS)

        async def new_event(capacity: int) -> int:
            body = event_body(capacity=capacity, max_per_order=10)
            response = await http.post(f"{servers[0].base_url}/events", json=body, headers=admin)
            assert response.status_code == 201
            return int(response.json()["id"])

        async def purchase(index: int, event_id: int, quantity: int) -> httpx.Response:
            base = servers[index % len(servers)].base_url
            return await http.post(
                f"{base}/events/{event_id}/tickets",
                json={"quantity": quantity},
                headers=buyers[index % BUYERS],
            )

        # 1. 300 simultaneous single-ticket purchases for 100 seats: exactly 100 sold.
        flash = await new_event(CAPACITY)
        responses = await asyncio.gather(*(purchase(i, flash, 1) for i in range(REQUESTS)))
        statuses = Counter(r.status_code for r in responses)
        assert statuses == {201: CAPACITY, 409: REQUESTS - CAPACITY}, statuses
        live, sold, _ = await inventory(database_url, flash)
        assert live == sold == CAPACITY

        # 2. Mixed quantities 1-4: never above capacity, counters equal the tickets.
        mixed = await new_event(CAPACITY)
        responses = await asyncio.gather(*(purchase(i, mixed, 1 + i % 4) for i in range(REQUESTS)))
        assert {r.status_code for r in responses} <= {201, 409}
        bought = sum(len(r.json()["tickets"]) for r in responses if r.status_code == 201)
        live, sold, _ = await inventory(database_url, mixed)
        assert live == sold == bought
        assert CAPACITY - 3 <= bought <= CAPACITY

        # 3. 50 simultaneous scans of one ticket, spread over the servers: exactly one valid.
        code = next(r for r in responses if r.status_code == 201).json()["tickets"][0]["code"]
        scans = await asyncio.gather(
            *(
                http.post(f"{servers[i % len(servers)].base_url}/tickets/{code}/validate", headers=admin)
                for i in range(50)
            )
        )
        results = Counter(s.json()["result"] for s in scans)
        assert results == {"valid": 1, "already_used": 49}, results

        # 4. 50 simultaneous scans of another ticket at two gates: one admission, counted once.
        second = next(r for r in responses if r.status_code == 201 and len(r.json()["tickets"]) > 1).json()[
            "tickets"
        ][1]["code"]
        gates = [
            (
                await http.post(
                    f"{servers[0].base_url}/events/{mixed}/gates",
                    json={"name": name, "allow_reentry": True},
                    headers=admin,
                )
            ).json()["id"]
            for name in ("North", "South")
        ]
        scans = await asyncio.gather(
            *(
                http.post(
                    f"{servers[i % len(servers)].base_url}/tickets/{second}/validate",
                    json={"gate_id": gates[i % 2]},
                    headers=admin,
                )
                for i in range(50)
            )
        )
        results = Counter(s.json()["result"] for s in scans)
        assert results == {"valid": 1, "already_used": 49}, results
        listed = (await http.get(f"{servers[0].base_url}/events/{mixed}/gates", headers=admin)).json()
        assert sum(g["admitted"] for g in listed) == sum(g["inside"] for g in listed) == 1
        assert sum(g["refused"] for g in listed) == 49

        # 5. One buyer's 30 simultaneous unpaid purchases: held seats stay within the cap per buyer
        # (by default the event's max_per_order).
        body = event_body(capacity=CAPACITY, max_per_order=HELD_CAP, price_cents=1500)
        priced = (await http.post(f"{servers[0].base_url}/events", json=body, headers=admin)).json()["id"]
        hoarding = await asyncio.gather(
            *(
                http.post(
                    f"{servers[i % len(servers)].base_url}/events/{priced}/tickets",
                    json={"quantity": 1},
                    headers=buyers[0],
                )
                for i in range(30)
            )
        )
        assert Counter(r.status_code for r in hoarding) == {201: HELD_CAP, 409: 30 - HELD_CAP}
        _, _, held = await inventory(database_url, priced)
        assert held == {"pending": HELD_CAP}


@pytest.mark.mysql
def test_two_processes_on_mariadb_never_oversell_or_double_admit(mysql_provider, tmp_path: Path) -> None:
    run_on_mariadb_servers(mysql_provider, tmp_path, "tf_live", run_scenario)


def test_one_process_on_sqlite_never_oversells_or_double_admits(sqlite_template, tmp_path: Path) -> None:
    import shutil

    path = tmp_path / "live.db"
    shutil.copyfile(sqlite_template, path)
    database_url = f"sqlite+aiosqlite:///{path}"
    with live_servers(database_url, 1, tmp_path) as servers:
        run_async(lambda: run_scenario(database_url, servers))
        assert "Traceback" not in servers[0].log()
