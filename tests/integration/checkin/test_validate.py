from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlalchemy import func, select, update

from tests.support.api import at_once, buy, make_actor, make_event
from ticketflow.db.models.checkins import CheckIn
from ticketflow.db.models.events import Event
from ticketflow.db.models.tickets import Ticket


async def check_ins(db) -> list[tuple[int | None, str, str | None, int | None]]:
    async with db() as session:
        rows = await session.execute(
            select(CheckIn.ticket_id, CheckIn.result, CheckIn.reason, CheckIn.scanned_by_id).order_by(
                CheckIn.id
            )
        )
        return [tuple(row) for row in rows]


@pytest.fixture
async def door(client, db):
    admin = await make_actor(client, db, role="admin")
    staff = await make_actor(client, db, role="staff")
    holder = await make_actor(client, db, name="Marie Curie")
    event = await make_event(client, admin, title="Opening night")
    return admin, staff, holder, event


async def test_valid_then_already_used(client, db, door) -> None:
    _, staff, holder, event = door
    ticket = (await buy(client, holder, event["id"])).json()["tickets"][0]

    first = await client.post(
        f"/tickets/{ticket['code']}/validate", json={"event_id": event["id"]}, headers=staff.headers
    )

    assert first.status_code == 200
    body = first.json()
    assert body["result"] == "valid"
    assert body["ticket"]["id"] == ticket["id"]
    assert body["ticket"]["status"] == "used"
    assert body["ticket"]["holder_name"] == "Marie Curie"
    assert body["ticket"]["event_title"] == "Opening night"
    assert (body["ticket"]["ticket_type_id"], body["ticket"]["ticket_type_name"]) == (
        ticket["ticket_type_id"],
        "General admission",
    )
    bought = {name: ticket[name] for name in ("order_id", "user_id", "code", "created_at")}
    assert {name: body["ticket"][name] for name in bought} == bought  # the Ticket resource's fields
    used_at = body["ticket"]["used_at"]

    second = await client.post(f"/tickets/{ticket['code']}/validate", headers=staff.headers)

    assert second.status_code == 409
    assert second.json()["result"] == "already_used"
    assert second.json()["used_at"] == used_at
    assert await check_ins(db) == [
        (ticket["id"], "valid", None, staff.id),
        (ticket["id"], "already_used", None, staff.id),
    ]


async def test_unknown_code(client, db, door) -> None:
    _, staff, _, _ = door
    response = await client.post("/tickets/tf1.notarealcode/validate", headers=staff.headers)
    assert response.status_code == 404
    body = response.json()
    assert body == {"result": "invalid", "reason": "unknown", "check_in_id": body["check_in_id"]}
    assert await check_ins(db) == [(None, "invalid", "unknown", staff.id)]
    async with db() as session:
        assert await session.scalar(select(CheckIn.id)) == body["check_in_id"]


def look_alikes(code: str) -> list[str]:
    """Texts a careless comparison would take for `code`."""
    prefix, _, random_part = code.partition(".")
    return [
        code.upper(),
        f"{prefix}.{random_part.swapcase()}",  # still has the code's shape: only the database decides
        code + " ",
        code + "\t",
        code + "\x01",
        "tf9." + random_part,
        "TF1." + random_part,
    ]


async def test_look_alike_codes_are_unknown_and_recorded(client, db, door) -> None:
    _, staff, holder, event = door
    code = (await buy(client, holder, event["id"])).json()["tickets"][0]["code"]
    variants = look_alikes(code)

    answers = [
        await client.post(f"/tickets/{quote(variant, safe='')}/validate", headers=staff.headers)
        for variant in variants
    ]

    assert [(a.status_code, a.json()["result"], a.json()["reason"]) for a in answers] == [
        (404, "invalid", "unknown")
    ] * len(variants)
    async with db() as session:
        assert await session.scalar(select(Ticket.status).where(Ticket.code == code)) == "active"
        scanned = list(await session.scalars(select(CheckIn.scanned_code).order_by(CheckIn.id)))
    assert scanned == variants
    assert await check_ins(db) == [(None, "invalid", "unknown", staff.id)] * len(variants)
    real = await client.post(f"/tickets/{code}/validate", headers=staff.headers)
    assert real.json()["result"] == "valid"


async def test_cancelled_ticket(client, db, door) -> None:
    _, staff, holder, event = door
    ticket = (await buy(client, holder, event["id"])).json()["tickets"][0]
    await client.post(f"/tickets/{ticket['id']}/cancel", headers=holder.headers)
    response = await client.post(f"/tickets/{ticket['code']}/validate", headers=staff.headers)
    assert response.status_code == 422
    assert response.json()["result"] == "invalid"
    assert response.json()["reason"] == "cancelled"


async def test_wrong_event(client, db, door) -> None:
    admin, staff, holder, event = door
    other = await make_event(client, admin)
    ticket = (await buy(client, holder, event["id"])).json()["tickets"][0]
    response = await client.post(
        f"/tickets/{ticket['code']}/validate", json={"event_id": other["id"]}, headers=staff.headers
    )
    assert response.status_code == 422
    assert response.json()["reason"] == "wrong_event"
    async with db() as session:
        assert await session.scalar(select(Ticket.status).where(Ticket.id == ticket["id"])) == "active"


async def test_event_cancelled(client, db, door) -> None:
    admin, staff, holder, event = door
    ticket = (await buy(client, holder, event["id"])).json()["tickets"][0]
    await client.delete(f"/events/{event['id']}", headers=admin.headers)
    response = await client.post(f"/tickets/{ticket['code']}/validate", headers=staff.headers)
    assert response.status_code == 422
    assert response.json()["reason"] == "event_cancelled"


async def test_unpaid_ticket(client, db, door) -> None:
    _, staff, holder, event = door
    ticket = (await buy(client, holder, event["id"])).json()["tickets"][0]
    async with db() as session:
        await session.execute(update(Ticket).where(Ticket.id == ticket["id"]).values(status="pending"))
        await session.commit()
    response = await client.post(f"/tickets/{ticket['code']}/validate", headers=staff.headers)
    assert response.status_code == 422
    assert response.json()["reason"] == "unpaid"


async def test_who_may_validate(client, db, door) -> None:
    admin, _, holder, event = door
    tickets = (await buy(client, holder, event["id"], quantity=2)).json()["tickets"]
    assert (await client.post(f"/tickets/{tickets[0]['code']}/validate")).status_code == 401
    assert (
        await client.post(f"/tickets/{tickets[0]['code']}/validate", headers=holder.headers)
    ).status_code == 403
    assert (
        await client.post(
            f"/tickets/{tickets[0]['code']}/validate", headers={"Authorization": "Bearer nonsense"}
        )
    ).status_code == 401
    assert (
        await client.post(f"/tickets/{tickets[1]['code']}/validate", headers=admin.headers)
    ).status_code == 200
    async with db() as session:
        assert await session.scalar(select(Ticket.status).where(Ticket.id == tickets[0]["id"])) == "active"
    assert [row[3] for row in await check_ins(db)] == [admin.id]


@pytest.mark.parametrize(
    ("code", "body"),
    [
        ("x" * 10_000, None),
        ("' OR 1=1 --", None),
        ("<script>alert(1)</script>", None),
        ("%00%0d%0a", None),
        ("tf1.abc", b'{"event_id": "one"}'),
        ("tf1.abc", b'{"event_id": -5}'),
        ("tf1.abc", b'{"event_id": 99999999999999999999999}'),
        ("tf1.abc", b"{not json"),
        ("tf1.abc", b'{"event_id": 1, "admit": true}'),
    ],
)
async def test_hostile_scans_are_4xx_and_change_nothing(client, db, door, code, body) -> None:
    _, staff, holder, event = door
    ticket = (await buy(client, holder, event["id"])).json()["tickets"][0]
    headers = {**staff.headers, "Content-Type": "application/json"}
    response = await client.post(f"/tickets/{code}/validate", content=body or b"", headers=headers)
    assert 400 <= response.status_code < 500
    async with db() as session:
        assert await session.scalar(select(Ticket.status).where(Ticket.id == ticket["id"])) == "active"
        scans = await session.scalar(
            select(func.count()).select_from(CheckIn).where(CheckIn.result == "valid")
        )
    assert scans == 0


async def test_fifty_simultaneous_scans_admit_once(client, db, door) -> None:
    _, staff, holder, event = door
    ticket = (await buy(client, holder, event["id"])).json()["tickets"][0]
    responses = await at_once(
        client,
        lambda http: (
            http.post(f"/tickets/{ticket['code']}/validate", headers=staff.headers) for _ in range(50)
        ),
    )
    results = [r.json()["result"] for r in responses]
    assert results.count("valid") == 1
    assert results.count("already_used") == 49
    async with db() as session:
        logged = await session.scalar(select(func.count()).select_from(CheckIn))
        assert await session.scalar(select(Event.tickets_sold).where(Event.id == event["id"])) == 1
    assert logged == 50
