"""Unpaid holds: released by the sweep and by purchases; money that arrives late, in both policies."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.integration.payments.flow import (
    PRICE,
    buy_pending,
    expire_hold,
    inventory,
    open_checkout,
    order_row,
    payments_for,
    press_pay,
    priced_event,
    refunds_for,
    ticket_statuses,
)
from tests.support.api import buy, make_actor
from tests.support.databases import settings_for_tests
from ticketflow.db.models.outbox import MessageKind, OutboxMessage
from ticketflow.lib.signed_codes import TicketSigner


@pytest.fixture
def settings(database_url, request):
    """The app's settings, with the late payment policy a test asks for (indirect parametrize)."""
    return settings_for_tests(
        database_url, late_payment_policy=getattr(request, "param", "accept_if_available")
    )


async def test_the_sweep_expires_unpaid_orders_and_puts_the_seats_back(
    client, worker, db, admin, attendee
) -> None:
    event = await priced_event(client, admin, capacity=4)
    late = await buy_pending(client, attendee, event["id"], quantity=3)
    fresh = await buy_pending(client, attendee, event["id"], quantity=1)
    await expire_hold(db, late["order"]["id"])

    assert await worker.expire_holds() == 3
    assert await worker.expire_holds() == 0

    assert (await order_row(db, late["order"]["id"])).status == "expired"
    assert await ticket_statuses(db, late["order"]["id"]) == ["cancelled"] * 3
    assert (await order_row(db, fresh["order"]["id"])).status == "pending"
    state = await inventory(db, event["id"])
    state.assert_consistent()
    assert (state.sold, state.held) == (0, 1)
    shown = (await client.get(f"/events/{event['id']}")).json()
    assert shown["tickets_available"] == 3


async def test_a_purchase_releases_expired_holds_that_block_it(client, db, admin, attendee) -> None:
    event = await priced_event(client, admin, capacity=2)
    abandoned = await buy_pending(client, attendee, event["id"], quantity=2)
    newcomer = await make_actor(client, db)
    assert (await buy(client, newcomer, event["id"], 1)).status_code == 409  # held, not expired yet
    await expire_hold(db, abandoned["order"]["id"])

    bought = await buy_pending(client, newcomer, event["id"], quantity=2)

    assert (await order_row(db, abandoned["order"]["id"])).status == "expired"
    assert bought["order"]["quantity"] == 2
    state = await inventory(db, event["id"])
    state.assert_consistent()
    assert (state.sold, state.held) == (0, 2)


async def test_late_payment_with_seats_left_issues_new_tickets(
    client, worker, db, admin, attendee, settings
) -> None:
    event = await priced_event(client, admin, capacity=5)
    purchase = await buy_pending(client, attendee, event["id"], quantity=2)
    page = await open_checkout(client, purchase)  # the buyer keeps the page open...
    await expire_hold(db, page.order_id)
    await worker.expire_holds()  # ...while the hold runs out

    response = await press_pay(client, page)

    assert response.status_code == 303
    order = await order_row(db, page.order_id)
    assert (order.status, order.refunded_cents) == ("paid", 0)
    assert await ticket_statuses(db, page.order_id) == ["cancelled", "cancelled", "active", "active"]
    old_codes = {t["code"] for t in purchase["tickets"]}
    listed = (await client.get("/tickets", headers=attendee.headers)).json()["items"]
    active = [t for t in listed if t["status"] == "active"]
    assert len(active) == 2
    assert not old_codes & {t["code"] for t in active}
    signer = TicketSigner.from_settings(settings)  # new tickets, new signed codes
    assert [(signer.verify(t["code"]).ticket_id, signer.verify(t["code"]).version) for t in active] == [
        (t["id"], 1) for t in active
    ]
    (payment,) = await payments_for(db, page.order_id)
    assert payment.status == "accepted"
    assert await refunds_for(db, page.order_id) == []
    async with db() as session:
        mails = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.order_id == page.order_id, OutboxMessage.kind == MessageKind.TICKETS)
        )
    assert mails == 1
    state = await inventory(db, event["id"])
    state.assert_consistent()
    assert (state.sold, state.held) == (2, 0)


async def test_late_payment_when_the_seats_are_gone_is_refunded(client, worker, db, admin, attendee) -> None:
    event = await priced_event(client, admin, capacity=2)
    purchase = await buy_pending(client, attendee, event["id"], quantity=2)
    page = await open_checkout(client, purchase)
    await expire_hold(db, page.order_id)
    newcomer = await make_actor(client, db)
    taken = await buy_pending(client, newcomer, event["id"], quantity=2)

    await press_pay(client, page)

    assert (await order_row(db, page.order_id)).status == "expired"
    (payment,) = await payments_for(db, page.order_id)
    assert (payment.status, payment.refusal) == ("refused", "late")
    (refund,) = await refunds_for(db, page.order_id)
    assert (refund.amount_cents, refund.reason, refund.status) == (2 * PRICE, "payment_refused", "pending")
    assert await worker.refunds() == 1
    assert [r.status for r in await refunds_for(db, page.order_id)] == ["succeeded"]
    assert await ticket_statuses(db, taken["order"]["id"]) == ["pending", "pending"]
    state = await inventory(db, event["id"])
    state.assert_consistent()
    assert (state.sold, state.held) == (0, 2)
    landing = await client.get(f"/payments/success?order_id={page.order_id}&token={page.token}")
    assert "refunded in full" in landing.text


async def test_late_payment_releases_other_expired_holds_to_find_seats(client, db, admin, attendee) -> None:
    event = await priced_event(client, admin, capacity=2)
    purchase = await buy_pending(client, attendee, event["id"], quantity=1)
    page = await open_checkout(client, purchase)
    await expire_hold(db, page.order_id)
    other = await buy_pending(client, await make_actor(client, db), event["id"], quantity=2)  # releases ours
    await expire_hold(db, other["order"]["id"])  # and runs out too, not swept yet

    await press_pay(client, page)

    assert (await order_row(db, page.order_id)).status == "paid"
    assert (await order_row(db, other["order"]["id"])).status == "expired"
    state = await inventory(db, event["id"])
    state.assert_consistent()
    assert (state.sold, state.held) == (1, 0)


async def test_late_payment_for_a_cancelled_event_is_refunded(client, db, admin, attendee) -> None:
    event = await priced_event(client, admin, capacity=5)
    purchase = await buy_pending(client, attendee, event["id"], quantity=1)
    page = await open_checkout(client, purchase)
    await expire_hold(db, page.order_id)
    await buy_pending(client, await make_actor(client, db), event["id"], quantity=5)  # sweeps ours lazily
    assert (await client.delete(f"/events/{event['id']}", headers=admin.headers)).status_code == 204

    await press_pay(client, page)

    (payment,) = await payments_for(db, page.order_id)
    assert (payment.status, payment.refusal) == ("refused", "late")
    assert (await order_row(db, page.order_id)).status == "expired"
    (await inventory(db, event["id"])).assert_consistent()


@pytest.mark.parametrize("settings", ["refund"], indirect=True)
async def test_refund_policy_refunds_late_money_even_with_seats_left(
    client, worker, db, admin, attendee
) -> None:
    event = await priced_event(client, admin, capacity=10)
    purchase = await buy_pending(client, attendee, event["id"], quantity=2)
    page = await open_checkout(client, purchase)
    await expire_hold(db, page.order_id)
    await worker.expire_holds()

    await press_pay(client, page)

    order = await order_row(db, page.order_id)
    assert order.status == "expired"
    assert await ticket_statuses(db, page.order_id) == ["cancelled", "cancelled"]
    (payment,) = await payments_for(db, page.order_id)
    assert (payment.status, payment.refusal, payment.refunded_cents) == ("refused", "late", 2 * PRICE)
    (refund,) = await refunds_for(db, page.order_id)
    assert refund.amount_cents == 2 * PRICE
    state = await inventory(db, event["id"])
    state.assert_consistent()
    assert (state.sold, state.held) == (0, 0)


@pytest.mark.parametrize("settings", ["refund"], indirect=True)
async def test_refund_policy_still_accepts_money_for_a_hold_not_yet_released(
    client, db, admin, attendee
) -> None:
    event = await priced_event(client, admin)
    page = await open_checkout(client, await buy_pending(client, attendee, event["id"]))
    await expire_hold(db, page.order_id)

    await press_pay(client, page)

    assert (await order_row(db, page.order_id)).status == "paid"
