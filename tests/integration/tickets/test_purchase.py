from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select, update

from tests.support.api import at_once, buy, make_actor, make_event
from ticketflow.db.models.events import Event
from ticketflow.db.models.orders import Order
from ticketflow.db.models.tickets import Ticket
from ticketflow.lib.ticket_codes import looks_like_ticket_code


async def counts(db, event_id: int) -> tuple[int, int, int]:
    """(orders, tickets, event.tickets_sold) of an event."""
    async with db() as session:
        orders = await session.scalar(
            select(func.count()).select_from(Order).where(Order.event_id == event_id)
        )
        tickets = await session.scalar(
            select(func.count()).select_from(Ticket).where(Ticket.event_id == event_id)
        )
        sold = await session.scalar(select(Event.tickets_sold).where(Event.id == event_id))
    return int(orders), int(tickets), int(sold)


async def test_buy_free_tickets(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    buyer = await make_actor(client, db)
    event = await make_event(client, admin, capacity=10)

    response = await buy(client, buyer, event["id"], quantity=3)

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["payment"] is None
    assert body["order"]["quantity"] == 3
    assert body["order"]["status"] == "paid"
    assert body["order"]["amount_cents"] == 0
    assert [t["status"] for t in body["tickets"]] == ["active"] * 3
    codes = {t["code"] for t in body["tickets"]}
    assert len(codes) == 3
    assert all(looks_like_ticket_code(code) for code in codes)
    assert await counts(db, event["id"]) == (1, 3, 3)
    refreshed = (await client.get(f"/events/{event['id']}")).json()
    assert refreshed["tickets_sold"] == 3
    assert refreshed["tickets_available"] == 7


async def test_default_quantity_is_one(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    buyer = await make_actor(client, db)
    event = await make_event(client, admin)
    response = await client.post(f"/events/{event['id']}/tickets", headers=buyer.headers)
    assert response.status_code == 201
    assert len(response.json()["tickets"]) == 1


async def test_not_enough_left_is_409_with_remaining(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    buyer = await make_actor(client, db)
    event = await make_event(client, admin, capacity=3)
    assert (await buy(client, buyer, event["id"], quantity=2)).status_code == 201

    response = await buy(client, buyer, event["id"], quantity=2)

    assert response.status_code == 409
    (type_id,) = [t["id"] for t in event["ticket_types"]]
    assert response.json()["extra"] == {"available": {str(type_id): 1}, "tickets_available": 1}
    assert await counts(db, event["id"]) == (1, 2, 2)
    assert (await buy(client, buyer, event["id"], quantity=1)).status_code == 201
    sold_out = await buy(client, buyer, event["id"], quantity=1)
    assert sold_out.status_code == 409
    assert sold_out.json()["extra"] == {"available": {str(type_id): 0}, "tickets_available": 0}


@pytest.mark.parametrize(
    ("quantity", "status"),
    [
        (0, 422),
        (-1, 422),
        (11, 422),
        (101, 422),
        (2**63, 422),
        (10**30, 422),
        ("two", 400),
        (None, 400),
        (1.5, 400),
    ],
)
async def test_quantity_out_of_range_changes_nothing(client, db, quantity, status) -> None:
    """A number outside 1..max_per_order breaks the sale's rule (422, as the contract says); what
    is no quantity at all (another type, or past any integer the server takes) is malformed (400)."""
    admin = await make_actor(client, db, role="admin")
    buyer = await make_actor(client, db)
    event = await make_event(client, admin, max_per_order=10)
    (type_id,) = [t["id"] for t in event["ticket_types"]]
    response = await client.post(
        f"/events/{event['id']}/tickets", json={"quantity": quantity}, headers=buyer.headers
    )
    assert response.status_code == status
    if status == 422:
        assert response.json()["extra"]["max_per_order"] == 10
    by_items = await client.post(
        f"/events/{event['id']}/tickets",
        json={"items": [{"ticket_type_id": type_id, "quantity": quantity}]},
        headers=buyer.headers,
    )
    assert by_items.status_code == status
    assert await counts(db, event["id"]) == (0, 0, 0)


async def test_lines_of_one_type_each_ask_for_one_at_least(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    buyer = await make_actor(client, db)
    event = await make_event(client, admin, max_per_order=10)
    (type_id,) = [t["id"] for t in event["ticket_types"]]
    lines = [{"ticket_type_id": type_id, "quantity": -1}, {"ticket_type_id": type_id, "quantity": 2}]
    response = await client.post(
        f"/events/{event['id']}/tickets", json={"items": lines}, headers=buyer.headers
    )
    assert response.status_code == 422
    assert response.json()["extra"]["ticket_type_id"] == type_id
    assert await counts(db, event["id"]) == (0, 0, 0)


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b"[]",
        b'{"quantity": 1, "extra": "x"}',
        b'"quantity"',
        b"\x00\xff",
        b'{"quantity": "1; DROP TABLE tickets"}',
    ],
)
async def test_malformed_purchase_bodies(client, db, body) -> None:
    admin = await make_actor(client, db, role="admin")
    buyer = await make_actor(client, db)
    event = await make_event(client, admin)
    response = await client.post(
        f"/events/{event['id']}/tickets",
        content=body,
        headers={**buyer.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["status_code"] == 400
    assert await counts(db, event["id"]) == (0, 0, 0)


async def test_unknown_event_is_404(client, db) -> None:
    buyer = await make_actor(client, db)
    assert (await buy(client, buyer, 999_999)).status_code == 404
    assert (await client.post("/events/-1/tickets", headers=buyer.headers)).status_code in (400, 404)
    assert (await client.post(f"/events/{2**70}/tickets", headers=buyer.headers)).status_code in (400, 404)


async def test_roles_allowed_to_buy(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    staff = await make_actor(client, db, role="staff")
    event = await make_event(client, admin)
    assert (await client.post(f"/events/{event['id']}/tickets")).status_code == 401
    assert (await buy(client, staff, event["id"])).status_code == 403
    assert (await buy(client, admin, event["id"])).status_code == 201


async def test_cancelled_started_and_not_on_sale_events_refused(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    buyer = await make_actor(client, db)
    cancelled = await make_event(client, admin)
    started = await make_event(client, admin)
    later = await make_event(client, admin, sales_start_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=2))
    async with db() as session:
        await session.execute(update(Event).where(Event.id == cancelled["id"]).values(status="cancelled"))
        await session.execute(
            update(Event)
            .where(Event.id == started["id"])
            .values(starts_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5))
        )
        await session.commit()
    for event in (cancelled, started, later):
        response = await buy(client, buyer, event["id"])
        assert response.status_code == 409, response.text
        assert await counts(db, event["id"]) == (0, 0, 0)


async def test_idempotency_key_returns_first_result(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    buyer = await make_actor(client, db)
    other = await make_actor(client, db)
    event = await make_event(client, admin)
    first = await buy(client, buyer, event["id"], quantity=2, key="order-123")
    again = await buy(client, buyer, event["id"], quantity=2, key="order-123")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    different = await buy(client, buyer, event["id"], quantity=3, key="order-123")
    assert different.status_code == 422
    # Keys are per user: another user's identical key is a separate purchase.
    assert (await buy(client, other, event["id"], quantity=2, key="order-123")).status_code == 201
    assert await counts(db, event["id"]) == (2, 4, 4)


@pytest.mark.parametrize("key", ["", "x" * 65, "white space", "é".encode(), "a\nb"])
async def test_bad_idempotency_keys_rejected(client, db, key) -> None:
    admin = await make_actor(client, db, role="admin")
    buyer = await make_actor(client, db)
    event = await make_event(client, admin)
    response = await buy(client, buyer, event["id"], key=key)  # non-ASCII goes as raw bytes
    assert response.status_code == 400
    assert await counts(db, event["id"]) == (0, 0, 0)


async def test_same_key_twenty_times_at_once_buys_once(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    buyer = await make_actor(client, db)
    event = await make_event(client, admin, capacity=50)
    responses = await at_once(
        client, lambda http: (buy(http, buyer, event["id"], quantity=2, key="retry-storm") for _ in range(20))
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["order"]["id"] for r in responses}) == 1
    assert await counts(db, event["id"]) == (1, 2, 2)


async def test_concurrent_buyers_never_oversell(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    buyers = [await make_actor(client, db) for _ in range(10)]
    event = await make_event(client, admin, capacity=25)
    responses = await at_once(
        client, lambda http: (buy(http, buyers[i % 10], event["id"], quantity=1 + i % 4) for i in range(40))
    )
    sold = sum(len(r.json()["tickets"]) for r in responses if r.status_code == 201)
    assert {r.status_code for r in responses} <= {201, 409}
    _, tickets, counter = await counts(db, event["id"])
    assert tickets == counter == sold
    assert sold <= 25
    assert sold >= 22  # only requests larger than what was left may fail
