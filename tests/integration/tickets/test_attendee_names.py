"""Named tickets: the holder names who attends with each ticket; the door shows that name."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from tests.support.api import buy, make_actor, make_event
from ticketflow.db.models.tickets import Ticket


async def attendee_in_db(db, ticket_id: int) -> str | None:
    async with db() as session:
        return await session.scalar(select(Ticket.attendee_name).where(Ticket.id == ticket_id))


async def test_tickets_show_the_holder_until_an_attendee_is_named(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    staff = await make_actor(client, db, role="staff")
    buyer = await make_actor(client, db, name="Ada Lovelace")
    event = await make_event(client, admin)
    bought = (await buy(client, buyer, event["id"], quantity=2)).json()["tickets"]
    assert [t["attendee_name"] for t in bought] == ["Ada Lovelace", "Ada Lovelace"]
    first, second = bought

    response = await client.patch(
        f"/tickets/{second['id']}", json={"attendee_name": "Grace Hopper"}, headers=buyer.headers
    )

    assert response.status_code == 200, response.text
    assert response.json()["attendee_name"] == "Grace Hopper"
    assert response.json()["event_title"] == event["title"]
    assert await attendee_in_db(db, second["id"]) == "Grace Hopper"
    assert await attendee_in_db(db, first["id"]) is None
    listed = (await client.get("/tickets", headers=buyer.headers)).json()["items"]
    assert {t["id"]: t["attendee_name"] for t in listed} == {
        first["id"]: "Ada Lovelace",
        second["id"]: "Grace Hopper",
    }
    shown = (await client.get(f"/tickets/{second['id']}", headers=admin.headers)).json()
    assert shown["attendee_name"] == "Grace Hopper"
    door = await client.post(f"/tickets/{second['code']}/validate", headers=staff.headers)
    assert door.status_code == 200
    assert door.json()["ticket"]["holder_name"] == "Grace Hopper"
    door = await client.post(f"/tickets/{first['code']}/validate", headers=staff.headers)
    assert door.json()["ticket"]["holder_name"] == "Ada Lovelace"
    # A second scan of the named ticket still names its attendee.
    again = await client.post(f"/tickets/{second['code']}/validate", headers=staff.headers)
    assert again.status_code == 409
    assert again.json()["ticket"]["holder_name"] == "Grace Hopper"


async def test_null_gives_the_ticket_back_to_the_holder_and_admins_may_name(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    buyer = await make_actor(client, db, name="Ada Lovelace")
    event = await make_event(client, admin)
    ticket = (await buy(client, buyer, event["id"])).json()["tickets"][0]
    url = f"/tickets/{ticket['id']}"

    named = await client.patch(url, json={"attendee_name": "  Émile Zola  "}, headers=admin.headers)
    assert named.status_code == 200
    assert await attendee_in_db(db, ticket["id"]) == "  Émile Zola  "
    cleared = await client.patch(url, json={"attendee_name": None}, headers=buyer.headers)
    assert cleared.status_code == 200
    assert cleared.json()["attendee_name"] == "Ada Lovelace"
    assert await attendee_in_db(db, ticket["id"]) is None


async def test_only_the_owner_or_an_admin_names_a_ticket(client, db, parties) -> None:
    staff, owner, stranger, ticket = parties.staff, parties.owner, parties.stranger, parties.ticket
    url = f"/tickets/{ticket['id']}"
    body = {"attendee_name": "Intruder"}
    assert (await client.patch(url, json=body)).status_code == 401
    assert (await client.patch(url, json=body, headers=stranger.headers)).status_code == 404
    assert (await client.patch(url, json=body, headers=staff.headers)).status_code == 403
    assert (await client.patch("/tickets/987654", json=body, headers=owner.headers)).status_code == 404
    assert await attendee_in_db(db, ticket["id"]) is None


@pytest.mark.parametrize(
    "body",
    [
        {"attendee_name": ""},
        {"attendee_name": "   "},
        {"attendee_name": "\u200b"},  # a zero-width space alone shows nothing
        {"attendee_name": " \u200d\u2060\ufeff "},
        {"attendee_name": "\u2800\u2800"},  # the blank Braille pattern, the usual "empty name"
        {"attendee_name": "\u034f\ufe0f"},
        {"attendee_name": "Ada\nLovelace"},
        {"attendee_name": "Ada\x00"},
        {"attendee_name": "Ada\r\n"},
        {"attendee_name": "x" * 121},
        {"attendee_name": 42},
        {},
        {"attendee_name": "Ada", "user_id": 1},
    ],
)
async def test_bad_names_are_refused_and_change_nothing(client, db, body) -> None:
    admin = await make_actor(client, db, role="admin")
    owner = await make_actor(client, db)
    event = await make_event(client, admin)
    ticket = (await buy(client, owner, event["id"])).json()["tickets"][0]
    response = await client.patch(f"/tickets/{ticket['id']}", json=body, headers=owner.headers)
    assert response.status_code == 400, response.text
    assert await attendee_in_db(db, ticket["id"]) is None


async def test_a_name_must_come_as_json(client, db, parties) -> None:
    response = await client.patch(
        f"/tickets/{parties.ticket['id']}",
        content=b"attendee_name=Mallory",
        headers={**parties.owner.headers, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 415
    assert await attendee_in_db(db, parties.ticket["id"]) is None


@pytest.mark.parametrize("status", ["used", "cancelled"])
async def test_used_or_cancelled_tickets_keep_their_name(client, db, status) -> None:
    admin = await make_actor(client, db, role="admin")
    staff = await make_actor(client, db, role="staff")
    owner = await make_actor(client, db)
    event = await make_event(client, admin)
    ticket = (await buy(client, owner, event["id"])).json()["tickets"][0]
    url = f"/tickets/{ticket['id']}"
    assert (
        await client.patch(url, json={"attendee_name": "First"}, headers=owner.headers)
    ).status_code == 200
    if status == "used":
        assert (
            await client.post(f"/tickets/{ticket['code']}/validate", headers=staff.headers)
        ).status_code == 200
    else:
        assert (await client.post(f"{url}/cancel", headers=owner.headers)).status_code == 200

    response = await client.patch(url, json={"attendee_name": "Second"}, headers=admin.headers)

    assert response.status_code == 409
    assert "used or cancelled" in response.json()["detail"]
    assert await attendee_in_db(db, ticket["id"]) == "First"


async def test_a_pending_ticket_may_be_named(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    owner = await make_actor(client, db)
    event = await make_event(client, admin)
    ticket = (await buy(client, owner, event["id"])).json()["tickets"][0]
    async with db() as session:
        await session.execute(update(Ticket).where(Ticket.id == ticket["id"]).values(status="pending"))
        await session.commit()
    response = await client.patch(
        f"/tickets/{ticket['id']}", json={"attendee_name": "Later"}, headers=owner.headers
    )
    assert response.status_code == 200
    assert response.json()["status"] == "pending"
