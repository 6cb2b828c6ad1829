"""Offline scans synced at once by several devices through two server processes on MariaDB.

Four devices each scanned the same 2 500 tickets offline, at times spread so that every ticket's
earliest scan may be on any device. Their 20 batches of 500 arrive all at once, alternating
between two servers: afterwards exactly one admission per ticket counts (the earliest by scan
time), the other 7 500 are duplicates, and sending every batch again changes nothing and answers
the same decisions as the database holds.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from bench.seed import insert_signed_tickets
from tests.support.api import TEST_PASSWORDS
from tests.support.factories import event_body, user_body
from tests.support.live import LiveServer, live_client, run_on_mariadb_servers
from ticketflow.db.config import create_engine
from ticketflow.db.models.checkins import CheckIn
from ticketflow.db.models.tickets import Ticket
from ticketflow.db.models.users import Role
from ticketflow.domain.accounts.service import AccountService
from ticketflow.lib.signed_codes import TicketSigner
from ticketflow.settings import Settings

pytestmark = [pytest.mark.slow, pytest.mark.mysql]

TICKETS = 2500
DEVICES = 4
BATCH = 500


async def arrange(database_url: str, base: str) -> tuple[int, list[dict[str, str]], list[tuple[int, str]]]:
    """An event, its paired devices (their headers) and its signed tickets."""
    settings = Settings(database_url=database_url)
    engine = create_engine(settings, null_pool=True)
    body = user_body()
    async with async_sessionmaker(engine, expire_on_commit=False)() as session:
        admin = await AccountService(session, TEST_PASSWORDS).create_user(
            name="Door Admin", email=body["email"], password=body["password"], role=Role.ADMIN
        )
        admin_id = admin.id
    async with live_client(base_url=base, timeout=60) as http:
        login = await http.post("/login", json={"email": body["email"], "password": body["password"]})
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        event = await http.post("/events", json=event_body(capacity=TICKETS), headers=headers)
        event_id = int(event.json()["id"])
        devices = []
        for index in range(DEVICES):
            created = await http.post(
                f"/events/{event_id}/scanners", json={"name": f"Phone {index}"}, headers=headers
            )
            paired = await http.post("/scanners/pair", json={"code": created.json()["pairing_code"]})
            devices.append({"Authorization": f"Bearer {paired.json()['access_token']}"})
    tickets = await insert_signed_tickets(
        engine, TicketSigner.from_settings(settings), event_id, admin_id, TICKETS
    )
    await engine.dispose()
    return event_id, devices, tickets


async def send_all(
    http: httpx.AsyncClient,
    servers: list[LiveServer],
    batches: list[tuple[int, list[dict[str, Any]]]],
    devices: list[dict[str, str]],
) -> list[dict[str, Any]]:
    async def one(index: int, device: int, scans: list[dict[str, Any]]) -> list[dict[str, Any]]:
        base = servers[index % len(servers)].base_url
        response = await http.post(f"{base}/check-ins/sync", json={"scans": scans}, headers=devices[device])
        assert response.status_code == 200, response.text
        results: list[dict[str, Any]] = response.json()["results"]
        return results

    answers = await asyncio.gather(*(one(i, device, scans) for i, (device, scans) in enumerate(batches)))
    return [result for batch in answers for result in batch]


async def scenario(database_url: str, servers: list[LiveServer]) -> None:
    event_id, devices, tickets = await arrange(database_url, servers[0].base_url)
    rng = random.Random(16)
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=4)
    moments = rng.sample(range(200_000), TICKETS * DEVICES)  # distinct milliseconds
    earliest: dict[int, str] = {}
    per_device: list[list[dict[str, Any]]] = [[] for _ in range(DEVICES)]
    for index, (ticket_id, code) in enumerate(tickets):
        for device in range(DEVICES):
            moment = moments[index * DEVICES + device]
            client_id = f"d{device}-t{ticket_id}"
            at = start + dt.timedelta(milliseconds=moment)
            per_device[device].append(
                {
                    "client_id": client_id,
                    "code": code,
                    "scanned_at": at.isoformat(),
                    "offline_result": "valid",
                }
            )
            if min(moments[index * DEVICES : index * DEVICES + DEVICES]) == moment:
                earliest[ticket_id] = client_id
    batches = [
        (device, scans[offset : offset + BATCH])
        for device, scans in enumerate(per_device)
        for offset in range(0, len(scans), BATCH)
    ]
    rng.shuffle(batches)
    async with live_client(timeout=300, max_connections=64) as http:
        first = await send_all(http, servers, batches, devices)
        assert len(first) == TICKETS * DEVICES
        assert {r["result"] for r in first} <= {"valid", "duplicate_admission"}

        engine = create_engine(Settings(database_url=database_url), null_pool=True)
        async with async_sessionmaker(engine)() as session:
            rows = (await session.execute(select(CheckIn.client_id, CheckIn.result, CheckIn.id))).all()
            used = await session.scalar(
                select(func.count())
                .select_from(Ticket)
                .where(Ticket.event_id == event_id, Ticket.status == "used")
            )
        await engine.dispose()
        stored = {client_id: (result, check_in_id) for client_id, result, check_in_id in rows}
        assert len(rows) == TICKETS * DEVICES
        assert Counter(result for result, _ in stored.values()) == {
            "valid": TICKETS,
            "duplicate_admission": TICKETS * (DEVICES - 1),
        }
        assert {client_id for client_id, (result, _) in stored.items() if result == "valid"} == set(
            earliest.values()
        )
        assert used == TICKETS

        again = await send_all(http, servers, batches, devices)
        assert {r["client_id"]: r["result"] for r in again} == {k: v[0] for k, v in stored.items()}
        by_client = {k: v[1] for k, v in stored.items()}
        for answer in again:
            if answer["result"] == "duplicate_admission":
                ticket = answer["client_id"].split("-t")[1]
                assert answer["duplicate_of"] == by_client[earliest[int(ticket)]]
        report = await http.get(
            f"{servers[1].base_url}/events/{event_id}/duplicate-admissions",
            headers=await admin_headers(http, servers[0].base_url, database_url),
        )
        assert report.json()["total"] == TICKETS
    engine = create_engine(Settings(database_url=database_url), null_pool=True)
    async with async_sessionmaker(engine)() as session:
        assert await session.scalar(select(func.count()).select_from(CheckIn)) == TICKETS * DEVICES
    await engine.dispose()


async def admin_headers(http: httpx.AsyncClient, base: str, database_url: str) -> dict[str, str]:
    body = user_body()
    engine = create_engine(Settings(database_url=database_url), null_pool=True)
    async with async_sessionmaker(engine)() as session:
        await AccountService(session, TEST_PASSWORDS).create_user(
            name="Report Reader", email=body["email"], password=body["password"], role=Role.ADMIN
        )
    await engine.dispose()
    login = await http.post(f"{base}/login", json={"email": body["email"], "password": body["password"]})
    return {"Authorization": f"Bearer {login.json()['access_token']}"}


def test_two_processes_sync_ten_thousand_offline_scans_exactly(mysql_provider, tmp_path: Path) -> None:
    run_on_mariadb_servers(mysql_provider, tmp_path, "tf_sync", scenario)
