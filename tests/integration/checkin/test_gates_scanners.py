"""Gates, scanner devices and their pairing, the scan log, the undo and the door-desk lookup."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from tests.support.api import buy, make_actor, make_event
from tests.support.factories import in_days
from ticketflow.db.models.checkins import CheckIn
from ticketflow.db.models.gates import GATE_COUNTER_SLOTS, Gate, GateCounter, Scanner
from ticketflow.db.models.tickets import Ticket


@pytest.fixture
async def door(client, db):
    admin = await make_actor(client, db, role="admin")
    staff = await make_actor(client, db, role="staff")
    holder = await make_actor(client, db, name="Ada Lovelace")
    event = await make_event(client, admin, title="Gala")
    return admin, staff, holder, event


async def rows(db, model, *order):
    async with db() as session:
        return (await session.scalars(select(model).order_by(*order or (model.id,)))).all()


async def event_types(client, admin, event, *names):
    """The event's own type and one more per name, ids ascending."""
    url = f"/events/{event['id']}/ticket-types"
    for name in names:
        assert (await client.post(url, json={"name": name}, headers=admin.headers)).status_code == 201
    return sorted(t["id"] for t in (await client.get(url, headers=admin.headers)).json())


async def test_gate_crud(client, db, door) -> None:
    admin, _staff, _, event = door
    first, second = await event_types(client, admin, event, "Balcony")
    created = await client.post(
        f"/events/{event['id']}/gates",
        json={"name": "North", "ticket_type_ids": [second, first, second]},
        headers=admin.headers,
    )
    assert created.status_code == 201, created.text
    gate = created.json()
    assert gate == {
        "id": gate["id"],
        "event_id": event["id"],
        "name": "North",
        "ticket_type_ids": [first, second],
        "allow_reentry": False,
        "admitted": 0,
        "inside": 0,
        "refused": 0,
    }
    changed = await client.patch(f"/gates/{gate['id']}", json={"allow_reentry": True}, headers=admin.headers)
    assert changed.status_code == 200
    assert changed.json()["allow_reentry"] is True
    assert changed.json()["name"] == "North"
    listed = await client.get(f"/events/{event['id']}/gates", headers=admin.headers)
    assert [g["id"] for g in listed.json()] == [gate["id"]]
    counters = await rows(db, GateCounter, GateCounter.slot)
    assert [(c.gate_id, c.slot) for c in counters] == [
        (gate["id"], slot) for slot in range(GATE_COUNTER_SLOTS)
    ]
    assert (await client.delete(f"/gates/{gate['id']}", headers=admin.headers)).status_code == 204
    assert await rows(db, Gate) == []
    assert await rows(db, GateCounter, GateCounter.slot) == []  # no orphans
    assert (await client.delete(f"/gates/{gate['id']}", headers=admin.headers)).status_code == 404


@pytest.mark.parametrize(
    "body",
    [{}, {"name": ""}, {"name": "x" * 101}, {"name": "A", "ticket_type_ids": [0]}, {"name": "A", "extra": 1}],
)
async def test_bad_gate_bodies_change_nothing(client, db, door, body) -> None:
    admin, _, _, event = door
    response = await client.post(f"/events/{event['id']}/gates", json=body, headers=admin.headers)
    assert response.status_code == 400
    assert await rows(db, Gate) == []


async def test_a_gate_admits_only_types_of_its_event(client, db, door) -> None:
    admin, _, _, event = door
    (own,) = await event_types(client, admin, event)
    other = await make_event(client, admin, title="Elsewhere")
    (foreign,) = await event_types(client, admin, other)
    url = f"/events/{event['id']}/gates"
    for type_ids in ([foreign], [own, foreign], [own + foreign + 1000]):
        refused = await client.post(
            url, json={"name": "N", "ticket_type_ids": type_ids}, headers=admin.headers
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["extra"]["unknown"] == sorted(set(type_ids) - {own})
    assert await rows(db, Gate) == []

    gate = (
        await client.post(url, json={"name": "N", "ticket_type_ids": [own]}, headers=admin.headers)
    ).json()
    refused = await client.patch(
        f"/gates/{gate['id']}", json={"name": "S", "ticket_type_ids": [foreign]}, headers=admin.headers
    )
    assert refused.status_code == 422
    [stored] = await rows(db, Gate)
    assert (stored.name, stored.ticket_type_ids) == ("N", [own])
    emptied = await client.patch(f"/gates/{gate['id']}", json={"ticket_type_ids": []}, headers=admin.headers)
    assert emptied.json()["ticket_type_ids"] == []


async def test_gates_are_for_admins_only(client, db, door) -> None:
    admin, staff, holder, event = door
    for actor in (staff, holder):
        response = await client.post(
            f"/events/{event['id']}/gates", json={"name": "N"}, headers=actor.headers
        )
        assert response.status_code == 403
    assert (await client.get(f"/events/{event['id']}/gates")).status_code == 401
    assert (
        await client.post("/events/999999/gates", json={"name": "N"}, headers=admin.headers)
    ).status_code == 404
    assert await rows(db, Gate) == []


async def create_scanner(client, admin, event, **body):
    response = await client.post(
        f"/events/{event['id']}/scanners", json={"name": "Phone 1", **body}, headers=admin.headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_pairing_is_one_time_and_stores_only_digests(client, db, door, settings) -> None:
    admin, _, _, event = door
    created = await create_scanner(client, admin, event)
    code = created["pairing_code"]
    assert len(code) >= 32
    assert created["pairing_url"] == f"{settings.public_base_url.rstrip('/')}/scan#code={code}"
    [stored] = await rows(db, Scanner)
    assert stored.pairing_code_hash == hashlib.sha256(code.encode()).digest()

    paired = await client.post("/scanners/pair", json={"code": code})
    assert paired.status_code == 200, paired.text
    body = paired.json()
    assert body["scanner"]["id"] == created["id"]
    assert body["scanner"]["event_id"] == event["id"]
    assert body["scanner"]["paired_at"] is not None
    [stored] = await rows(db, Scanner)
    assert stored.pairing_code_hash is None
    assert stored.token_hash == hashlib.sha256(body["access_token"].encode()).digest()

    again = await client.post("/scanners/pair", json={"code": code})
    assert again.status_code == 401
    [after] = await rows(db, Scanner)
    assert after.token_hash == stored.token_hash

    listed = await client.get(f"/events/{event['id']}/scanners", headers=admin.headers)
    assert [s["id"] for s in listed.json()] == [created["id"]]
    assert "pairing_code" not in listed.json()[0]


async def test_revoked_scanner_cannot_pair(client, db, door) -> None:
    admin, staff, _, event = door
    created = await create_scanner(client, admin, event)
    assert (await client.post(f"/scanners/{created['id']}/revoke", headers=staff.headers)).status_code == 403
    revoked = await client.post(f"/scanners/{created['id']}/revoke", headers=admin.headers)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert (await client.post("/scanners/pair", json={"code": created["pairing_code"]})).status_code == 401
    assert (await client.post("/scanners/999999/revoke", headers=admin.headers)).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"name": "P", "expires_at": in_days(-1).isoformat()},
        {"name": "P", "expires_at": in_days(31).isoformat()},
    ],
)
async def test_scanner_expiry_out_of_range_is_refused(client, db, door, body) -> None:
    admin, _, _, event = door
    response = await client.post(f"/events/{event['id']}/scanners", json=body, headers=admin.headers)
    assert response.status_code == 422
    assert await rows(db, Scanner) == []


async def test_scanner_gate_must_be_the_events(client, db, door) -> None:
    admin, _, _, event = door
    other = await make_event(client, admin, title="Other")
    gate = (
        await client.post(f"/events/{other['id']}/gates", json={"name": "G"}, headers=admin.headers)
    ).json()
    response = await client.post(
        f"/events/{event['id']}/scanners", json={"name": "P", "gate_id": gate["id"]}, headers=admin.headers
    )
    assert response.status_code == 422
    assert await rows(db, Scanner) == []


async def test_unknown_pairing_codes_are_limited_per_client(client, db, door, settings) -> None:
    statuses = [
        (await client.post("/scanners/pair", json={"code": f"wrong-{n}"})).status_code
        for n in range(settings.login_max_attempts_per_client + 1)
    ]
    assert statuses[:-1] == [401] * settings.login_max_attempts_per_client
    assert statuses[-1] == 429


async def scan(client, staff, ticket, event):
    return await client.post(
        f"/tickets/{ticket['code']}/validate", json={"event_id": event["id"]}, headers=staff.headers
    )


async def test_revert_reopens_the_ticket_and_is_logged(client, db, door) -> None:
    admin, staff, holder, event = door
    ticket = (await buy(client, holder, event["id"])).json()["tickets"][0]
    admission = (await scan(client, staff, ticket, event)).json()
    assert admission["result"] == "valid"
    assert admission["check_in_id"] > 0

    assert (
        await client.post(f"/check-ins/{admission['check_in_id']}/revert", headers=staff.headers)
    ).status_code == 403
    undone = await client.post(f"/check-ins/{admission['check_in_id']}/revert", headers=admin.headers)
    assert undone.status_code == 200, undone.text
    assert undone.json()["result"] == "reverted"
    assert undone.json()["reverts_id"] == admission["check_in_id"]
    [stored] = await rows(db, Ticket)
    assert stored.status == "active"
    assert stored.used_at is None

    again = await client.post(f"/check-ins/{admission['check_in_id']}/revert", headers=admin.headers)
    assert again.status_code == 409
    assert (await scan(client, staff, ticket, event)).json()["result"] == "valid"
    log = await rows(db, CheckIn)
    assert [(row.result, row.reverts_id, row.scanned_by_id) for row in log] == [
        ("valid", None, staff.id),
        ("reverted", admission["check_in_id"], admin.id),
        ("valid", None, staff.id),
    ]
    # the first admission is no longer the latest: it cannot be undone again
    assert (await client.post(f"/check-ins/{log[0].id}/revert", headers=admin.headers)).status_code == 409
    # a refusal is not an admission
    refused = (await scan(client, staff, ticket, event)).json()
    assert (
        await client.post(f"/check-ins/{refused['check_in_id']}/revert", headers=admin.headers)
    ).status_code == 409
    assert (await client.post("/check-ins/999999/revert", headers=admin.headers)).status_code == 404
    [stored] = await rows(db, Ticket)
    assert stored.status == "used"


async def test_scan_log_filters_and_pages(client, db, door) -> None:
    admin, staff, holder, event = door
    first, second = (await buy(client, holder, event["id"], quantity=2)).json()["tickets"]
    await scan(client, staff, first, event)
    await scan(client, staff, first, event)
    await scan(client, staff, second, event)

    page = await client.get("/check-ins", params={"event_id": event["id"], "limit": 2}, headers=admin.headers)
    assert page.status_code == 200
    body = page.json()
    assert body["total"] == 3
    assert body["limit"] == 2
    assert body["offset"] == 0
    assert [item["ticket_id"] for item in body["items"]] == [second["id"], first["id"]]
    used = await client.get("/check-ins", params={"result": "already_used"}, headers=admin.headers)
    assert [(i["ticket_id"], i["result"]) for i in used.json()["items"]] == [(first["id"], "already_used")]
    by_ticket = await client.get("/check-ins", params={"ticket_id": second["id"]}, headers=admin.headers)
    assert by_ticket.json()["total"] == 1
    assert (
        await client.get("/check-ins", params={"result": "maybe"}, headers=admin.headers)
    ).status_code == 400
    assert (await client.get("/check-ins", params={"gate_id": 0}, headers=admin.headers)).status_code == 400
    assert (await client.get("/check-ins", headers=staff.headers)).status_code == 403


async def test_door_desk_lookup(client, db, door) -> None:
    admin, staff, holder, event = door
    order = (await buy(client, holder, event["id"])).json()
    ticket = order["tickets"][0]
    other = await make_actor(client, db, name="Grace Hopper")
    await buy(client, other, event["id"])

    by_name = await client.get(
        f"/events/{event['id']}/tickets/lookup", params={"q": "lovel"}, headers=staff.headers
    )
    assert by_name.status_code == 200
    assert [(t["id"], t["holder_name"], t["code"]) for t in by_name.json()] == [
        (ticket["id"], "Ada Lovelace", ticket["code"])
    ]
    by_mail = await client.get(
        f"/events/{event['id']}/tickets/lookup", params={"q": holder.email.upper()}, headers=admin.headers
    )
    assert [t["id"] for t in by_mail.json()] == [ticket["id"]]
    by_order = await client.get(
        f"/events/{event['id']}/tickets/lookup",
        params={"q": str(order["order"]["id"])},
        headers=staff.headers,
    )
    assert by_order.status_code == 200, by_order.text
    assert ticket["id"] in [t["id"] for t in by_order.json()]
    wildcard = await client.get(
        f"/events/{event['id']}/tickets/lookup", params={"q": "%%"}, headers=staff.headers
    )
    assert wildcard.json() == []
    assert (
        await client.get(f"/events/{event['id']}/tickets/lookup", params={"q": "ad"}, headers=holder.headers)
    ).status_code == 403
    assert (
        await client.get(f"/events/{event['id']}/tickets/lookup", params={"q": ""}, headers=staff.headers)
    ).status_code == 400
    for too_short in ("@", ".", "a", "   ", " e "):  # one character matches half the hall
        refused = await client.get(
            f"/events/{event['id']}/tickets/lookup", params={"q": too_short}, headers=staff.headers
        )
        assert refused.status_code == 422, (too_short, refused.text)


@pytest.mark.parametrize(
    "token",
    [
        b"tfs.\xb2." + b"a" * 43,  # a digit to str.isdigit, not to int()
        b"tfs." + b"9" * 5000 + b"." + b"a" * 43,  # more digits than int() reads
        b"tfs.12." + b"a" * 5,  # a secret too short
        b"tfs.x." + b"a" * 43,
    ],
)
async def test_a_malformed_scanner_token_is_401(client, db, token) -> None:
    answer = await client.post(
        "/check-ins/sync", json={"scans": []}, headers={b"Authorization": b"Bearer " + token}
    )
    assert answer.status_code == 401, answer.text
    assert await rows(db, CheckIn) == []
