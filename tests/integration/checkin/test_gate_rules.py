"""Scans at gates: counters in the scan's transaction, out-scans and re-entry, gate-bound devices."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.support.api import buy, make_actor, make_event
from ticketflow.db.models.checkins import CheckIn
from ticketflow.db.models.gates import Gate


@pytest.fixture
async def door(client, db):
    admin = await make_actor(client, db, role="admin")
    staff = await make_actor(client, db, role="staff")
    holder = await make_actor(client, db, name="Emmy Noether")
    event = await make_event(client, admin, title="Festival")
    return admin, staff, holder, event


async def make_gate(client, admin, event, **body):
    response = await client.post(
        f"/events/{event['id']}/gates", json={"name": "G", **body}, headers=admin.headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def at_gate(client, staff, ticket, gate, direction="in"):
    response = await client.post(
        f"/tickets/{ticket['code']}/validate",
        json={"gate_id": gate["id"], "direction": direction},
        headers=staff.headers,
    )
    return response.status_code, response.json()["result"]


async def counters(db, gate):
    async with db() as session:
        row = await session.get(Gate, gate["id"])
        return row.admitted, row.inside, row.refused


async def test_reentry_gate_lets_a_ticket_out_and_in_again(client, db, door) -> None:
    admin, staff, holder, event = door
    gate = await make_gate(client, admin, event, allow_reentry=True)
    ticket = (await buy(client, holder, event["id"])).json()["tickets"][0]
    assert await at_gate(client, staff, ticket, gate) == (200, "valid")
    assert await at_gate(client, staff, ticket, gate) == (409, "already_used")
    assert await at_gate(client, staff, ticket, gate, "out") == (200, "exited")
    assert await counters(db, gate) == (1, 0, 1)
    assert await at_gate(client, staff, ticket, gate) == (200, "valid")
    assert await counters(db, gate) == (2, 1, 1)
    async with db() as session:
        log = (await session.execute(select(CheckIn.result, CheckIn.gate_id).order_by(CheckIn.id))).all()
    assert [tuple(row) for row in log] == [
        ("valid", gate["id"]),
        ("already_used", gate["id"]),
        ("exited", gate["id"]),
        ("valid", gate["id"]),
    ]


async def test_without_reentry_the_first_admission_is_final(client, db, door) -> None:
    admin, staff, holder, event = door
    gate = await make_gate(client, admin, event)
    ticket = (await buy(client, holder, event["id"])).json()["tickets"][0]
    assert (await at_gate(client, staff, ticket, gate, "out"))[1] != "exited"  # not inside yet
    assert await at_gate(client, staff, ticket, gate) == (200, "valid")
    assert await at_gate(client, staff, ticket, gate, "out") == (200, "exited")
    assert await at_gate(client, staff, ticket, gate) == (409, "already_used")
    admitted, inside, refused = await counters(db, gate)
    assert (admitted, inside) == (1, 0)
    assert refused >= 1


async def test_a_gate_of_another_event_or_an_out_scan_without_gate_is_refused(client, db, door) -> None:
    admin, staff, holder, event = door
    other = await make_event(client, admin, title="Other")
    gate = await make_gate(client, admin, other)
    ticket = (await buy(client, holder, event["id"])).json()["tickets"][0]
    response = await client.post(
        f"/tickets/{ticket['code']}/validate",
        json={"event_id": event["id"], "gate_id": gate["id"]},
        headers=staff.headers,
    )
    assert response.status_code == 422
    no_gate = await client.post(
        f"/tickets/{ticket['code']}/validate", json={"direction": "out"}, headers=staff.headers
    )
    assert no_gate.status_code == 422
    bad = await client.post(
        f"/tickets/{ticket['code']}/validate", json={"direction": "up"}, headers=staff.headers
    )
    assert bad.status_code == 400
    async with db() as session:
        assert (await session.execute(select(CheckIn.id))).all() == []
    assert await counters(db, gate) == (0, 0, 0)


async def test_a_gate_bound_scanner_scans_only_at_its_gate(client, db, door) -> None:
    admin, _, holder, event = door
    north = await make_gate(client, admin, event, name="North")
    south = await make_gate(client, admin, event, name="South")
    created = await client.post(
        f"/events/{event['id']}/scanners", json={"name": "P", "gate_id": north["id"]}, headers=admin.headers
    )
    token = (await client.post("/scanners/pair", json={"code": created.json()["pairing_code"]})).json()[
        "access_token"
    ]
    headers = {"Authorization": f"Bearer {token}"}
    ticket = (await buy(client, holder, event["id"])).json()["tickets"][0]
    elsewhere = await client.post(
        f"/tickets/{ticket['code']}/validate", json={"gate_id": south["id"]}, headers=headers
    )
    assert elsewhere.status_code == 403
    here = await client.post(f"/tickets/{ticket['code']}/validate", headers=headers)
    assert here.status_code == 200
    assert await counters(db, north) == (1, 1, 0)
    assert await counters(db, south) == (0, 0, 0)
