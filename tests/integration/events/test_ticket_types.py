"""Ticket types through the API: the default type, admin management, the public view."""

from __future__ import annotations

from sqlalchemy import select

from tests.support.api import make_actor, make_event
from ticketflow.db.models.events import Event
from ticketflow.db.models.ticket_types import TicketType


async def test_an_event_created_the_old_way_gets_general_admission(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    event = await make_event(client, admin, capacity=80, price_cents=1500)

    response = await client.get(f"/events/{event['id']}")

    assert response.status_code == 200
    (only,) = response.json()["ticket_types"]
    assert only["name"] == "General admission"
    assert (only["price_cents"], only["capacity"], only["available"]) == (1500, 80, 80)
    assert (only["currency"], only["tax_rate"], only["hidden"], only["active"]) == ("EUR", 0, False, True)
    listed = (await client.get(f"/events/{event['id']}/ticket-types")).json()
    assert listed == [only]


async def test_event_price_and_capacity_follow_into_its_single_type(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    event = await make_event(client, admin, capacity=80, price_cents=1500)

    patched = await client.patch(
        f"/events/{event['id']}", json={"capacity": 60, "price_cents": 900}, headers=admin.headers
    )

    assert patched.status_code == 200, patched.text
    async with db() as session:
        (only,) = (await session.scalars(select(TicketType).where(TicketType.event_id == event["id"]))).all()
    assert (only.capacity, only.price_cents) == (60, 900)


async def test_admin_adds_types_public_sees_visible_ones_and_lowest_price(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    event = await make_event(client, admin, capacity=100, price_cents=3000)
    url = f"/events/{event['id']}/ticket-types"

    vip = await client.post(
        url, json={"name": "VIP", "price_cents": 9000, "capacity": 10, "tax_rate": 5.5}, headers=admin.headers
    )
    hidden = await client.post(
        url, json={"name": "Crew", "price_cents": 0, "hidden": True}, headers=admin.headers
    )
    early = await client.post(url, json={"name": "Early bird", "price_cents": 2000}, headers=admin.headers)

    assert [r.status_code for r in (vip, hidden, early)] == [201, 201, 201]
    assert vip.json()["tax_rate"] == 5.5
    assert vip.json()["available"] == 10
    public = (await client.get(url)).json()
    assert [t["name"] for t in public] == ["General admission", "VIP", "Early bird"]
    everything = (await client.get(url, headers=admin.headers)).json()
    assert [t["name"] for t in everything] == ["General admission", "VIP", "Crew", "Early bird"]
    shown = (await client.get(f"/events/{event['id']}")).json()
    assert shown["price_cents"] == 2000  # the lowest visible price; the hidden free type does not count
    assert [t["name"] for t in shown["ticket_types"]] == ["General admission", "VIP", "Early bird"]
    async with db() as session:
        stored = await session.get(TicketType, vip.json()["id"])
        assert stored is not None
        assert stored.tax_rate_bp == 550


async def test_changing_and_deleting_types(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    event = await make_event(client, admin, capacity=100)
    created = await client.post(
        f"/events/{event['id']}/ticket-types",
        json={"name": "Student", "price_cents": 500},
        headers=admin.headers,
    )
    type_id = created.json()["id"]

    changed = await client.patch(
        f"/ticket-types/{type_id}", json={"capacity": 20, "active": False}, headers=admin.headers
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["capacity"], changed.json()["active"]) == (20, False)
    assert "Student" not in [
        t["name"] for t in (await client.get(f"/events/{event['id']}/ticket-types")).json()
    ]

    deleted = await client.delete(f"/ticket-types/{type_id}", headers=admin.headers)
    assert deleted.status_code == 204
    assert (await client.patch(f"/ticket-types/{type_id}", json={}, headers=admin.headers)).status_code == 404


async def test_a_type_with_sales_cannot_be_deleted(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    buyer = await make_actor(client, db)
    event = await make_event(client, admin, capacity=10)
    bought = await client.post(f"/events/{event['id']}/tickets", json={"quantity": 2}, headers=buyer.headers)
    assert bought.status_code == 201, bought.text
    (only,) = (await client.get(f"/events/{event['id']}/ticket-types")).json()
    assert (only["sold"], only["available"]) == (2, 8)

    response = await client.delete(f"/ticket-types/{only['id']}", headers=admin.headers)
    assert response.status_code == 409
    shrink = await client.patch(f"/ticket-types/{only['id']}", json={"capacity": 1}, headers=admin.headers)
    assert shrink.status_code == 409
    async with db() as session:
        assert await session.get(TicketType, only["id"]) is not None


async def test_bad_type_input_changes_nothing(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    attendee = await make_actor(client, db)
    event = await make_event(client, admin, capacity=50)
    url = f"/events/{event['id']}/ticket-types"
    bodies = [
        {"name": ""},
        {"name": "X", "price_cents": -1},
        {"name": "X", "tax_rate": 101},
        {"name": "X", "capacity": 51},  # above the event's capacity
        {"name": "X", "sales_start_at": "2999-01-01T00:00:00+00:00"},  # after the event starts
        {"name": "X", "surprise": 1},
        {"name": "X", "sales_start_at": "0001-01-01T00:00:00+09:00"},  # before datetime.min in UTC
        {"name": "X", "sales_end_at": "9999-12-31T23:00:00-05:00"},
    ]
    for body in bodies:
        response = await client.post(url, json=body, headers=admin.headers)
        assert response.status_code in (400, 422), (body, response.text)
    assert (await client.post(url, json={"name": "X"}, headers=attendee.headers)).status_code == 403
    assert (await client.post(url, json={"name": "X"})).status_code == 401
    assert (
        await client.post("/events/999999/ticket-types", json={"name": "X"}, headers=admin.headers)
    ).status_code == 404
    async with db() as session:
        count = len(
            (await session.scalars(select(TicketType).where(TicketType.event_id == event["id"]))).all()
        )
        stored = await session.get(Event, event["id"])
    assert count == 1
    assert stored is not None
