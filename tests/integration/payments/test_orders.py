"""The orders API: own orders with their lines, filters for admins, cancelling a whole order."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from tests.integration.payments.flow import (
    PRICE,
    buy_pending,
    inventory,
    order_row,
    pay_order,
    priced_event,
    refunds_for,
    ticket_statuses,
)
from tests.support.api import at_once, buy, make_actor, make_event
from ticketflow.db.models.events import Event
from ticketflow.db.models.ticket_types import OrderLine


async def test_own_orders_with_lines_and_typed_tickets(client, db, admin, attendee) -> None:
    stranger = await make_actor(client, db)
    event = await make_event(client, admin, capacity=10)
    bought = (await buy(client, attendee, event["id"], quantity=3)).json()
    await buy(client, stranger, event["id"])
    (general,) = (await client.get(f"/events/{event['id']}/ticket-types")).json()

    page = (await client.get("/orders", headers=attendee.headers)).json()

    assert page["total"] == 1
    (order,) = page["items"]
    assert order["id"] == bought["order"]["id"]
    assert order["voucher_code"] is None
    assert order["lines"] == [
        {
            "ticket_type_id": general["id"],
            "name": "General admission",
            "quantity": 3,
            "unit_price_cents": 0,
            "discount_cents": 0,
            "tax_rate": 0,
            "amount_cents": 0,
        }
    ]
    assert bought["order"]["lines"] == order["lines"]
    assert {(t["ticket_type_id"], t["ticket_type_name"]) for t in bought["tickets"]} == {
        (general["id"], "General admission")
    }
    ticket = (await client.get(f"/tickets/{bought['tickets'][0]['id']}", headers=attendee.headers)).json()
    assert (ticket["ticket_type_id"], ticket["ticket_type_name"]) == (general["id"], "General admission")
    assert (await client.get(f"/orders/{order['id']}", headers=attendee.headers)).json() == order
    assert (await client.get(f"/orders/{order['id']}", headers=stranger.headers)).status_code == 404
    assert (await client.post(f"/orders/{order['id']}/cancel", headers=stranger.headers)).status_code == 404


async def test_admin_sees_all_orders_and_filters_them(client, db, admin, attendee) -> None:
    other = await make_actor(client, db)
    first = await make_event(client, admin)
    second = await priced_event(client, admin)
    await buy(client, attendee, first["id"])
    await buy(client, other, first["id"])
    await buy_pending(client, other, second["id"])

    everything = (await client.get("/orders", headers=admin.headers)).json()
    by_event = (await client.get(f"/orders?event_id={first['id']}", headers=admin.headers)).json()
    by_user = (await client.get(f"/orders?user_id={other.id}", headers=admin.headers)).json()
    pending = (await client.get("/orders?status=pending", headers=admin.headers)).json()
    own_only = (await client.get(f"/orders?user_id={other.id}", headers=attendee.headers)).json()
    paged = (await client.get("/orders?limit=1&offset=1", headers=admin.headers)).json()

    assert everything["total"] == 3
    assert by_event["total"] == 2
    assert by_user["total"] == 2
    assert [o["status"] for o in pending["items"]] == ["pending"]
    assert own_only["total"] == 1  # an attendee's filter cannot reach another user's orders
    assert (paged["limit"], paged["offset"], len(paged["items"])) == (1, 1, 1)
    for query in ("status=bogus", "limit=0", "user_id=0", "event_id=x"):
        assert (await client.get(f"/orders?{query}", headers=admin.headers)).status_code == 400, query


async def test_cancelling_a_paid_order_refunds_it_and_frees_every_seat(client, db, admin, attendee) -> None:
    event = await priced_event(client, admin, capacity=5)
    purchase = await buy_pending(client, attendee, event["id"], quantity=2)
    await pay_order(client, purchase)
    order_id = purchase["order"]["id"]

    response = await client.post(f"/orders/{order_id}/cancel", headers=attendee.headers)

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "refunded"
    assert await ticket_statuses(db, order_id) == ["cancelled", "cancelled"]
    assert sum(r.amount_cents for r in await refunds_for(db, order_id)) == 2 * PRICE
    stock = await inventory(db, event["id"])
    stock.assert_consistent()
    assert (stock.sold, stock.held) == (0, 0)
    again = await client.post(f"/orders/{order_id}/cancel", headers=attendee.headers)
    assert again.status_code == 409


async def test_cancelling_a_pending_order_releases_its_hold(client, db, admin, attendee) -> None:
    event = await priced_event(client, admin, capacity=5)
    purchase = await buy_pending(client, attendee, event["id"], quantity=3)

    response = await client.post(f"/orders/{purchase['order']['id']}/cancel", headers=attendee.headers)

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    assert (await order_row(db, purchase["order"]["id"])).status == "cancelled"
    stock = await inventory(db, event["id"])
    stock.assert_consistent()
    assert stock.held == 0
    assert not await refunds_for(db, purchase["order"]["id"])


async def test_only_an_admin_cancels_once_the_event_started(client, db, admin, attendee) -> None:
    event = await make_event(client, admin, capacity=5)
    order_id = (await buy(client, attendee, event["id"], quantity=2)).json()["order"]["id"]
    async with db() as session:
        started = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
        await session.execute(update(Event).where(Event.id == event["id"]).values(starts_at=started))
        await session.commit()

    refused = await client.post(f"/orders/{order_id}/cancel", headers=attendee.headers)
    assert refused.status_code == 409
    assert await ticket_statuses(db, order_id) == ["active", "active"]

    done = await client.post(f"/orders/{order_id}/cancel", headers=admin.headers)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "cancelled"
    (await inventory(db, event["id"])).assert_consistent()
    async with db() as session:
        (line,) = (await session.scalars(select(OrderLine).where(OrderLine.order_id == order_id))).all()
    assert line.quantity == 2


async def test_simultaneous_cancels_of_a_paid_order_count_it_once(client, db, admin, attendee) -> None:
    """A double click on "cancel order": one answer cancels and refunds, the others find the order
    refunded (409); every counter moves once. What could go wrong here goes wrong on MariaDB
    (SQLite's one writer serialises the cancels whole); tests/e2e/tickets/test_cancel_concurrency.py
    proves the same on two processes."""
    event = await priced_event(client, admin, capacity=5)
    purchase = await buy_pending(client, attendee, event["id"], quantity=2)
    await pay_order(client, purchase)
    order_id = purchase["order"]["id"]

    answers = await at_once(
        client,
        lambda http: (http.post(f"/orders/{order_id}/cancel", headers=attendee.headers) for _ in range(4)),
    )

    assert sorted(a.status_code for a in answers) == [200, 409, 409, 409], [a.text for a in answers]
    assert (await order_row(db, order_id)).status == "refunded"
    assert sum(r.amount_cents for r in await refunds_for(db, order_id)) == 2 * PRICE
    stock = await inventory(db, event["id"])
    stock.assert_consistent()
    assert (stock.sold, stock.held) == (0, 0)


async def test_the_last_tickets_cancelled_at_once_close_the_order(client, db, admin, attendee) -> None:
    """Both tickets of a paid order cancelled at once: whichever commits last sees the other's
    cancellation, so the order is refunded, not left paid with no ticket."""
    event = await priced_event(client, admin, capacity=5)
    purchase = await buy_pending(client, attendee, event["id"], quantity=2)
    await pay_order(client, purchase)
    order_id = purchase["order"]["id"]
    urls = [f"/tickets/{ticket['id']}/cancel" for ticket in purchase["tickets"]]

    answers = await at_once(client, lambda http: (http.post(url, headers=attendee.headers) for url in urls))

    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    assert (await order_row(db, order_id)).status == "refunded"
    assert await ticket_statuses(db, order_id) == ["cancelled", "cancelled"]
    stock = await inventory(db, event["id"])
    stock.assert_consistent()
    assert (stock.sold, stock.held) == (0, 0)
