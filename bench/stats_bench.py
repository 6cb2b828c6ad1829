"""Stats at scale: `python -m bench.stats_bench [--tickets 100000] [--events 20]`.

Builds an SQLite database with `--tickets` tickets (orders paid over two months, some tickets
used or cancelled, door scans over the evening of each event), then times the stats queries,
the stats API, the dashboard pages and a CSV export, in process. Prints the best and the median
of `--repeat` runs. Add `--database-url` to run against another empty, migrated-on-the-fly
database (e.g. MariaDB).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bench.seed import BATCH, insert_event, insert_users, mint_token
from tests.support.back_office import log_in
from ticketflow.app import create_app
from ticketflow.db.config import create_engine
from ticketflow.db.migrate import upgrade_to_head
from ticketflow.db.models.checkins import CheckIn
from ticketflow.db.models.events import Event
from ticketflow.db.models.orders import Order
from ticketflow.db.models.ticket_types import TicketType
from ticketflow.db.models.tickets import Ticket
from ticketflow.db.models.users import Role
from ticketflow.domain.accounts.service import AccountService
from ticketflow.domain.stats.service import StatsService
from ticketflow.lib.state import STATE_KEY
from ticketflow.lib.ticket_codes import new_ticket_code
from ticketflow.settings import Settings

SECRET = "bench-secret-" + "s" * 40
ADMIN_PASSWORD = "bench-admin-password"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.stats_bench", description=__doc__)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--database-url", help="an empty database (default: a new SQLite file)")
    return parser.parse_args()


async def seed(engine: AsyncEngine, tickets: int, events: int) -> list[int]:
    """Orders of 1-4 tickets spread over the events; returns the event ids."""
    rng = random.Random(6)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    (admin_id,) = await insert_users(engine, 1, "admin", "bench-admin")
    (staff_id,) = await insert_users(engine, 1, "staff", "bench-staff")
    buyers = await insert_users(engine, 2000, "attendee", "bench-buyer")
    capacity = tickets // events + 1000
    event_ids = [await insert_event(engine, admin_id, capacity, f"Bench event {n}") for n in range(events)]
    async with engine.connect() as connection:
        type_of = dict((await connection.execute(select(TicketType.event_id, TicketType.id))).all())
    orders: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    scans: list[dict[str, Any]] = []
    sold = dict.fromkeys(event_ids, 0)
    order_id = 0
    while len(rows) < tickets:
        order_id += 1
        event_id, buyer = rng.choice(event_ids), rng.choice(buyers)
        quantity = min(rng.randint(1, 4), tickets - len(rows))
        paid_at = now - dt.timedelta(minutes=rng.randint(0, 60 * 24 * 60))
        orders.append(
            {
                "id": order_id,
                "user_id": buyer,
                "event_id": event_id,
                "quantity": quantity,
                "amount_cents": 1500 * quantity,
                "currency": "EUR",
                "status": "paid",
                "paid_at": paid_at,
                "refunded_cents": 0,
                "created_at": paid_at,
                "updated_at": paid_at,
            }
        )
        for _ in range(quantity):
            roll = rng.random()
            status = "used" if roll < 0.3 else "cancelled" if roll < 0.35 else "active"
            door_time = now + dt.timedelta(minutes=rng.randint(0, 180))
            rows.append(
                {
                    "id": len(rows) + 1,
                    "order_id": order_id,
                    "user_id": buyer,
                    "event_id": event_id,
                    "ticket_type_id": type_of[event_id],
                    "code": new_ticket_code(),
                    "status": status,
                    "used_at": door_time if status == "used" else None,
                    "cancelled_at": paid_at if status == "cancelled" else None,
                    "created_at": paid_at,
                    "updated_at": paid_at,
                }
            )
            sold[event_id] += status != "cancelled"
            if status == "used":
                scans.append(scan(rows[-1], "valid", staff_id, door_time))
            if status == "used" and rng.random() < 0.1:
                scans.append(scan(rows[-1], "already_used", staff_id, door_time + dt.timedelta(minutes=5)))
    async with engine.begin() as connection:
        for table, data in ((Order, orders), (Ticket, rows), (CheckIn, scans)):
            for start in range(0, len(data), BATCH):
                await connection.execute(insert(table), data[start : start + BATCH])
        for event_id, count in sold.items():
            await connection.execute(update(Event).where(Event.id == event_id).values(tickets_sold=count))
            of_event = update(TicketType).where(TicketType.event_id == event_id)
            await connection.execute(of_event.values(sold=count))
    print(f"seeded {len(rows)} tickets, {len(orders)} orders, {len(scans)} scans over {events} events")
    return event_ids


def scan(ticket: dict[str, Any], result: str, staff_id: int, at: dt.datetime) -> dict[str, Any]:
    return {
        "ticket_id": ticket["id"],
        "event_id": ticket["event_id"],
        "scanned_code": ticket["code"],
        "result": result,
        "scanned_by_id": staff_id,
        "scanned_at": at,
    }


async def timed(label: str, repeat: int, action: Callable[[], Awaitable[Any]]) -> None:
    durations = []
    for _ in range(repeat):
        started = time.perf_counter()
        await action()
        durations.append((time.perf_counter() - started) * 1000)
    print(f"{label:<44} best {min(durations):8.1f} ms   median {statistics.median(durations):8.1f} ms")


async def run(args: argparse.Namespace, url: str) -> None:
    await asyncio.to_thread(upgrade_to_head, url)
    settings = Settings(
        env="test",
        database_url=url,
        jwt_secret=SECRET,
        argon2_memory_kib=1024,
        argon2_time_cost=1,
        database_auto_migrate=False,
        worker_in_process=False,
        log_level="WARNING",
    )
    engine = create_engine(settings)
    started = time.perf_counter()
    event_ids = await seed(engine, args.tickets, args.events)
    print(f"seeding took {time.perf_counter() - started:.1f} s")
    sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def overview() -> None:
        async with sessions() as session:
            await StatsService(session).overview()

    async def one_event() -> None:
        async with sessions() as session:
            await StatsService(session).event_stats(event_ids[0])

    await timed("StatsService.overview()", args.repeat, overview)
    await timed("StatsService.event_stats(event)", args.repeat, one_event)

    app = create_app(settings)
    async with AsyncTestClient(app=app) as client:
        async with sessions() as session:
            admin = await AccountService(session, app.state[STATE_KEY].passwords).create_user(
                name="Bench Admin", email="bench-admin@example.com", password=ADMIN_PASSWORD, role=Role.ADMIN
            )
        headers = {"Authorization": f"Bearer {mint_token(admin.id, SECRET)}"}
        login = await log_in(client, admin.email, ADMIN_PASSWORD)
        assert login.status_code == 302, login.text
        pages = [
            ("GET /stats", "/stats", headers),
            ("GET /events/{id}/stats", f"/events/{event_ids[0]}/stats", headers),
            ("GET /admin/dashboard", "/admin/dashboard", None),
            ("GET /admin/dashboard/events/{id}", f"/admin/dashboard/events/{event_ids[0]}", None),
            (
                "GET /admin/dashboard/events/{id}/tickets.csv",
                f"/admin/dashboard/events/{event_ids[0]}/tickets.csv",
                None,
            ),
            ("GET /admin/ticket/list (100 a page)", "/admin/ticket/list?pageSize=100", None),
        ]
        for label, path, page_headers in pages:

            async def fetch(path: str = path, page_headers: dict[str, str] | None = page_headers) -> None:
                response = await client.get(path, headers=page_headers)
                assert response.status_code == 200, (path, response.status_code)

            await timed(label, args.repeat, fetch)
    await engine.dispose()


def main() -> None:
    args = parse_args()
    if args.database_url:
        asyncio.run(run(args, args.database_url))
        return
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(run(args, f"sqlite+aiosqlite:///{Path(folder) / 'stats.db'}"))


if __name__ == "__main__":
    main()
