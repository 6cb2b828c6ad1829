"""Money that arrives after the hold ran out buys what the order still held when it expired, on the
terms of a purchase made now.

Only the tickets the expiry cancelled are issued again: one its holder cancelled while the order
was unpaid stays cancelled and what it cost goes back, as when the money comes in time. And the
late payment is refused (refunded in full, refusal `late`, as when the seats are gone) when a
purchase now would be: a type taken off sale or out of its sale window, the event's sales closed,
the voucher out of its validity.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select, update

from tests.integration.payments.flow import (
    PRICE,
    buy_mixed,
    buy_pending,
    expire_hold,
    only_payment,
    open_checkout,
    order_row,
    press_pay,
    priced_event,
    refunds_for,
    refused_in_full,
    sold_and_held,
    ticket_statuses,
    vip_sale,
    voucher_uses,
)
from tests.support.api import Actor, make_actor
from ticketflow.db.models.events import Event
from ticketflow.db.models.ticket_types import TicketType
from ticketflow.db.models.tickets import Ticket
from ticketflow.db.models.vouchers import Voucher


async def cancel_ticket(client, buyer: Actor, ticket_id: int) -> None:
    response = await client.post(f"/tickets/{ticket_id}/cancel", headers=buyer.headers)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"


async def expired(db, worker, order_id: int) -> None:
    """The hold runs out and the sweep releases it."""
    await expire_hold(db, order_id)
    assert await worker.expire_holds() >= 1
    assert (await order_row(db, order_id)).status == "expired"


async def active_tickets(client, buyer: Actor, order_id: int) -> list[dict[str, Any]]:
    listed = (await client.get("/tickets", headers=buyer.headers)).json()["items"]
    return [t for t in listed if t["order_id"] == order_id and t["status"] == "active"]


async def type_counters(db, event_id: int) -> dict[int, tuple[int, int]]:
    async with db() as session:
        rows = await session.execute(
            select(TicketType.id, TicketType.sold, TicketType.held).where(TicketType.event_id == event_id)
        )
        return {type_id: (sold, held) for type_id, sold, held in rows}


async def test_a_late_payment_does_not_bring_back_a_ticket_cancelled_while_unpaid(
    client, worker, db, admin, attendee
) -> None:
    """Buy 2, cancel 1 while unpaid, the hold runs out, pay late: 1 new ticket, the other's
    price refunded - as a payment in time does."""
    event = await priced_event(client, admin, capacity=5)
    purchase = await buy_pending(client, attendee, event["id"], quantity=2)
    page = await open_checkout(client, purchase)
    given_up, kept = (t["id"] for t in purchase["tickets"])
    await cancel_ticket(client, attendee, given_up)
    await expired(db, worker, page.order_id)

    assert (await press_pay(client, page)).status_code == 303

    order = await order_row(db, page.order_id)
    assert (order.status, order.refunded_cents) == ("paid", PRICE)
    assert await ticket_statuses(db, page.order_id) == ["cancelled", "cancelled", "active"]
    (new,) = await active_tickets(client, attendee, page.order_id)
    assert new["id"] not in (given_up, kept)
    payment = await only_payment(db, page.order_id)
    assert (payment.status, payment.refunded_cents) == ("accepted", PRICE)
    (refund,) = await refunds_for(db, page.order_id)
    assert (refund.amount_cents, refund.reason, refund.ticket_id) == (PRICE, "tickets_gone", given_up)
    assert await worker.refunds() == 1
    shown = (await client.get(f"/orders/{page.order_id}", headers=attendee.headers)).json()
    assert shown["status"] == "paid"
    assert await sold_and_held(db, event["id"]) == (1, 0)


async def test_a_ticket_cancelled_after_the_hold_ran_out_but_before_the_sweep_stays_cancelled(
    client, worker, db, admin, attendee
) -> None:
    """The hold's end does not tell the holder's cancellations from the expiry's: this one came
    after it, and the late payment still does not issue it again."""
    event = await priced_event(client, admin, capacity=5)
    purchase = await buy_pending(client, attendee, event["id"], quantity=2)
    page = await open_checkout(client, purchase)
    await expire_hold(db, page.order_id)
    given_up = purchase["tickets"][1]["id"]
    await cancel_ticket(client, attendee, given_up)
    assert await worker.expire_holds() == 1

    await press_pay(client, page)

    assert (await order_row(db, page.order_id)).status == "paid"
    assert await ticket_statuses(db, page.order_id) == ["cancelled", "cancelled", "active"]
    (refund,) = await refunds_for(db, page.order_id)
    assert (refund.amount_cents, refund.reason, refund.ticket_id) == (PRICE, "tickets_gone", given_up)
    assert await sold_and_held(db, event["id"]) == (1, 0)


async def test_a_late_payment_takes_seats_only_of_the_types_it_issues(
    client, worker, db, admin, attendee
) -> None:
    """1 general + 2 VIP with a voucher; the general one cancelled while unpaid, then its type's
    last seat sold to someone else after the expiry: the late payment still buys the 2 VIP tickets
    (it needs no general seat), takes the voucher's use again and refunds the general ticket."""
    event, general_id, vip_id = await vip_sale(client, admin)
    capped = await client.patch(f"/ticket-types/{general_id}", json={"capacity": 1}, headers=admin.headers)
    assert capped.status_code == 200, capped.text
    purchase = await buy_mixed(client, attendee, event["id"], general_id, vip_id)
    page = await open_checkout(client, purchase)
    (general,) = [t["id"] for t in purchase["tickets"] if t["ticket_type_id"] == general_id]
    await cancel_ticket(client, attendee, general)
    await expired(db, worker, page.order_id)
    assert await voucher_uses(db) == 0
    other = await make_actor(client, db)
    body = {"items": [{"ticket_type_id": general_id, "quantity": 1}]}
    assert (
        await client.post(f"/events/{event['id']}/tickets", json=body, headers=other.headers)
    ).status_code == 201

    await press_pay(client, page)

    order = await order_row(db, page.order_id)
    assert (order.status, order.refunded_cents) == ("paid", PRICE)
    new = await active_tickets(client, attendee, page.order_id)
    assert sorted(t["ticket_type_id"] for t in new) == [vip_id, vip_id]
    (refund,) = await refunds_for(db, page.order_id)
    assert (refund.amount_cents, refund.reason, refund.ticket_id) == (PRICE, "tickets_gone", general)
    assert await voucher_uses(db) == 1
    assert await type_counters(db, event["id"]) == {general_id: (0, 1), vip_id: (2, 0)}
    assert await sold_and_held(db, event["id"]) == (2, 1)


async def take_type_off_sale(client, db, admin: Actor, event_id: int, type_id: int) -> None:
    response = await client.patch(f"/ticket-types/{type_id}", json={"active": False}, headers=admin.headers)
    assert response.status_code == 200, response.text


async def end_type_sales(client, db, admin: Actor, event_id: int, type_id: int) -> None:
    """The type's sales end passed meanwhile (the clock is not faked: the end is moved)."""
    async with db() as session:
        await session.execute(
            update(TicketType).where(TicketType.id == type_id).values(sales_end_at=a_second_ago())
        )
        await session.commit()


async def end_event_sales(client, db, admin: Actor, event_id: int, type_id: int) -> None:
    async with db() as session:
        await session.execute(update(Event).where(Event.id == event_id).values(sales_end_at=a_second_ago()))
        await session.commit()


def a_second_ago() -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)


@pytest.mark.parametrize("close_sale", [take_type_off_sale, end_type_sales, end_event_sales])
async def test_a_late_payment_after_the_sale_closed_is_refunded(
    client, worker, db, admin, attendee, close_sale
) -> None:
    """The organiser took the type off sale, or its sales or the event's ended, after the hold ran
    out: the seats are not sold again; the money goes back in full (`late`), nothing changes."""
    event, general_id, vip_id = await vip_sale(client, admin)
    page = await open_checkout(client, await buy_mixed(client, attendee, event["id"], general_id, vip_id))
    await expired(db, worker, page.order_id)
    await close_sale(client, db, admin, event["id"], vip_id)

    assert (await press_pay(client, page)).status_code == 303

    assert (await order_row(db, page.order_id)).status == "expired"
    assert await refused_in_full(db, page.order_id) == "late"
    assert await ticket_statuses(db, page.order_id) == ["cancelled"] * 3
    assert await voucher_uses(db) == 0
    assert await type_counters(db, event["id"]) == {general_id: (0, 0), vip_id: (0, 0)}
    assert await sold_and_held(db, event["id"]) == (0, 0)
    landing = await client.get(f"/payments/success?order_id={page.order_id}&token={page.token}")
    assert "refunded in full" in landing.text


async def test_a_late_payment_after_its_voucher_expired_is_refunded(
    client, worker, db, admin, attendee
) -> None:
    """The voucher's validity ended after the hold ran out: the discount is not granted again."""
    event, general_id, vip_id = await vip_sale(client, admin)
    page = await open_checkout(client, await buy_mixed(client, attendee, event["id"], general_id, vip_id))
    await expired(db, worker, page.order_id)
    async with db() as session:
        await session.execute(
            update(Voucher).where(Voucher.code == "VIP-OFF").values(valid_until=a_second_ago())
        )
        await session.commit()

    await press_pay(client, page)

    assert (await order_row(db, page.order_id)).status == "expired"
    assert await refused_in_full(db, page.order_id) == "late"
    assert await voucher_uses(db) == 0
    async with db() as session:
        live = await session.scalar(
            select(func.count())
            .select_from(Ticket)
            .where(Ticket.event_id == event["id"], Ticket.status != "cancelled")
        )
    assert live == 0
    assert await sold_and_held(db, event["id"]) == (0, 0)
