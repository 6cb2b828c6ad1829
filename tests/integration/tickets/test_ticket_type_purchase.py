"""Buying several ticket types in one order: lines, typed tickets, caps of the types and the event."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from tests.support.api import make_actor, make_event
from ticketflow.db.models.orders import Order
from ticketflow.db.models.ticket_types import TicketType


async def typed_event(client, admin) -> tuple[dict, dict, dict, dict]:
    event = await make_event(client, admin, capacity=10)
    url = f"/events/{event['id']}/ticket-types"
    vip = (await client.post(url, json={"name": "VIP", "capacity": 2}, headers=admin.headers)).json()
    crew = (await client.post(url, json={"name": "Crew", "hidden": True}, headers=admin.headers)).json()
    (general,) = [t for t in (await client.get(url)).json() if t["name"] == "General admission"]
    return event, general, vip, crew


def items(*lots: tuple[dict, int]) -> dict:
    return {"items": [{"ticket_type_id": t["id"], "quantity": q} for t, q in lots]}


async def test_one_order_of_several_types(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    buyer = await make_actor(client, db)
    event, general, vip, _ = await typed_event(client, admin)

    response = await client.post(
        f"/events/{event['id']}/tickets", json=items((vip, 2), (general, 3)), headers=buyer.headers
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["order"]["quantity"] == 5
    assert [(line["name"], line["quantity"]) for line in body["order"]["lines"]] == [
        ("General admission", 3),
        ("VIP", 2),
    ]
    assert sorted(t["ticket_type_name"] for t in body["tickets"]) == ["General admission"] * 3 + ["VIP"] * 2
    types = {t["name"]: t for t in (await client.get(f"/events/{event['id']}/ticket-types")).json()}
    assert (types["VIP"]["sold"], types["VIP"]["available"]) == (2, 0)
    assert (types["General admission"]["sold"], types["General admission"]["available"]) == (3, 5)


async def test_a_type_or_the_event_that_cannot_supply_the_lot_is_a_409(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    buyer = await make_actor(client, db)
    event, general, vip, _ = await typed_event(client, admin)
    url = f"/events/{event['id']}/tickets"
    assert (await client.post(url, json=items((vip, 2)), headers=buyer.headers)).status_code == 201

    vip_gone = await client.post(url, json=items((vip, 1), (general, 1)), headers=buyer.headers)
    too_many = await client.post(url, json=items((general, 9)), headers=buyer.headers)

    assert vip_gone.status_code == 409
    assert vip_gone.json()["extra"]["available"] == {str(vip["id"]): 0, str(general["id"]): 8}
    assert too_many.status_code == 409  # the event has 8 left whatever the type's own cap says
    assert too_many.json()["extra"]["available"] == {str(general["id"]): 8}
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(Order)) == 1
        stored = await session.get(TicketType, general["id"])
        assert stored is not None
        assert stored.sold == 0


async def test_quantity_alone_hidden_and_foreign_types_are_refused(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    buyer = await make_actor(client, db)
    event, general, _, crew = await typed_event(client, admin)
    other = await make_event(client, admin)
    (foreign,) = (await client.get(f"/events/{other['id']}/ticket-types")).json()
    url = f"/events/{event['id']}/tickets"

    several = await client.post(url, json={"quantity": 1}, headers=buyer.headers)
    hidden = await client.post(url, json=items((crew, 1)), headers=buyer.headers)
    wrong_event = await client.post(url, json=items((foreign, 1)), headers=buyer.headers)
    both = await client.post(url, json={"quantity": 1} | items((general, 1)), headers=buyer.headers)
    empty = await client.post(url, json={"items": []}, headers=buyer.headers)

    assert several.status_code == 422, several.text
    assert (hidden.status_code, wrong_event.status_code, both.status_code) == (422, 422, 422)
    assert empty.status_code in (400, 422)
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(Order)) == 0


@pytest.mark.parametrize(
    ("price_cents", "key"), [(0, None), (0, "retry-safe"), (1500, None)], ids=["free", "keyed", "priced"]
)
async def test_quantity_alone_keeps_the_single_types_own_rules(client, db, price_cents, key) -> None:
    """`{quantity}` buys the single visible type under that type's own `max_per_order` and sale
    window, on the flash sale's path (free, no key) as on the full one."""
    admin = await make_actor(client, db, role="admin")
    buyer = await make_actor(client, db)
    event = await make_event(client, admin, capacity=10, price_cents=price_cents)
    (general,) = event["ticket_types"]
    url = f"/events/{event['id']}/tickets"
    headers = buyer.headers if key is None else {**buyer.headers, "Idempotency-Key": key}
    patched = await client.patch(
        f"/ticket-types/{general['id']}", json={"max_per_order": 2}, headers=admin.headers
    )
    assert patched.status_code == 200, patched.text

    too_many = await client.post(url, json={"quantity": 3}, headers=headers)
    assert too_many.status_code == 422, too_many.text
    assert too_many.json()["extra"] == {"ticket_type_id": general["id"], "max_per_order": 2}

    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    closed = await client.patch(
        f"/ticket-types/{general['id']}", json={"sales_start_at": later}, headers=admin.headers
    )
    assert closed.status_code == 200, closed.text
    not_yet = await client.post(url, json={"quantity": 1}, headers=headers)
    assert not_yet.status_code == 409, not_yet.text
    assert not_yet.json()["extra"]["ticket_type_id"] == general["id"]
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(Order)) == 0
        sold, held = (await session.execute(select(TicketType.sold, TicketType.held))).one()
        assert (sold, held) == (0, 0)
