"""Many people through one gate at once, on a real server: door staff and two paired scanners
scan forty different tickets simultaneously. Every scan is admitted (on MariaDB, scans that lock
their gate's row before or after their log row's foreign key does could deadlock), and the gate's
counters add up. Each answer counts its own scan in the counters it saw at its start; the next
scan, alone, sees them all."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.e2e.checkin.test_scanner_browser import create_people
from tests.e2e.payments.shop import login
from tests.support.databases import run_async
from tests.support.factories import event_body
from tests.support.live import live_client, live_servers

pytestmark = pytest.mark.slow
TICKETS = 40


async def door_rush(base: str, people: dict[str, dict[str, str]]) -> None:
    async with live_client(base_url=base, timeout=60) as http:
        admin = await login(http, base, people["admin"]["email"], people["admin"]["password"])
        staff = await login(http, base, people["staff"]["email"], people["staff"]["password"])
        buyer = await login(http, base, people["attendee"]["email"], people["attendee"]["password"])
        event = (await http.post("/events", json=event_body(price_cents=0), headers=admin)).json()
        gate = (await http.post(f"/events/{event['id']}/gates", json={"name": "Main"}, headers=admin)).json()
        callers = [staff]
        for name in ("P1", "P2"):
            body = {"name": name, "gate_id": gate["id"]}
            created = (await http.post(f"/events/{event['id']}/scanners", json=body, headers=admin)).json()
            paired = (await http.post("/scanners/pair", json={"code": created["pairing_code"]})).json()
            callers.append({"Authorization": f"Bearer {paired['access_token']}"})
        codes = []
        for _ in range(TICKETS // 10):
            bought = await http.post(f"/events/{event['id']}/tickets", json={"quantity": 10}, headers=buyer)
            assert bought.status_code == 201, bought.text
            codes += [ticket["code"] for ticket in bought.json()["tickets"]]
        answers = await asyncio.gather(
            *(
                http.post(f"/tickets/{code}/validate", json={"gate_id": gate["id"]}, headers=callers[i % 3])
                for i, code in enumerate(codes)
            )
        )
        assert sorted(answer.status_code for answer in answers) == [200] * TICKETS
        assert all(1 <= answer.json()["gate"]["admitted"] <= TICKETS for answer in answers)
        again = await http.post(f"/tickets/{codes[0]}/validate", json={"gate_id": gate["id"]}, headers=staff)
        assert again.status_code == 409
        seen = again.json()["gate"]
        assert (seen["admitted"], seen["inside"], seen["refused"]) == (TICKETS, TICKETS, 1)
        (counted,) = (await http.get(f"/events/{event['id']}/gates", headers=admin)).json()
        assert (counted["admitted"], counted["inside"], counted["refused"]) == (TICKETS, TICKETS, 1)


def test_forty_people_through_one_gate_at_once(database_url: str, tmp_path: Path) -> None:
    people = run_async(lambda: create_people(database_url))
    with live_servers(database_url, 1, tmp_path) as (server,):
        run_async(lambda: door_rush(server.base_url, people))
