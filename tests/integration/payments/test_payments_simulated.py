"""Priced events end to end with the simulated provider, over HTTP, on SQLite and MariaDB."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.integration.payments.flow import (
    PRICE,
    buy_pending,
    database_state,
    expire_hold,
    inventory,
    local_url,
    open_checkout,
    order_row,
    pay_order,
    payments_for,
    press_cancel,
    press_pay,
    priced_event,
    refunds_for,
    ticket_statuses,
)
from tests.support.api import buy, make_actor
from ticketflow.db.models.orders import Order
from ticketflow.db.models.outbox import MessageKind, OutboxMessage


async def ticket_mails(db, order_id: int) -> int:
    async with db() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.order_id == order_id, OutboxMessage.kind == MessageKind.TICKETS)
            )
        )


async def test_priced_purchase_holds_seats_until_paid_in_the_browser_page(
    client, db, admin, attendee
) -> None:
    event = await priced_event(client, admin, capacity=5)
    purchase = await buy_pending(client, attendee, event["id"], quantity=2)

    order = purchase["order"]
    assert order["amount_cents"] == 2 * PRICE
    assert order["currency"] == "EUR"
    assert order["expires_at"] is not None
    assert [t["status"] for t in purchase["tickets"]] == ["pending", "pending"]
    payment = purchase["payment"]
    assert payment["provider"] == "simulated"
    assert payment["expires_at"] == order["expires_at"]
    assert payment["checkout_url"].startswith("http://127.0.0.1:8000/payments/simulated/")
    shown = (await client.get(f"/events/{event['id']}")).json()
    assert shown["tickets_available"] == 3  # held seats count as taken
    assert await ticket_mails(db, order["id"]) == 0

    page = await open_checkout(client, purchase)
    assert "50.00 EUR" in page.html
    assert event["title"] in page.html
    assert "<script" not in page.html
    assert page.attempt

    paid = await press_pay(client, page)
    assert paid.status_code == 303
    landing = await client.get(paid.headers["location"])
    assert landing.status_code == 200
    assert "Payment received" in landing.text

    stored = await order_row(db, order["id"])
    assert stored.status == "paid"
    assert stored.paid_at is not None
    assert await ticket_statuses(db, order["id"]) == ["active", "active"]
    (recorded,) = await payments_for(db, order["id"])
    assert (recorded.status, recorded.amount_cents, recorded.currency) == ("accepted", 2 * PRICE, "EUR")
    state = await inventory(db, event["id"])
    state.assert_consistent()
    assert (state.sold, state.held) == (2, 0)
    assert await ticket_mails(db, order["id"]) == 1
    tickets = (await client.get("/tickets", headers=attendee.headers)).json()["items"]
    assert {t["status"] for t in tickets} == {"active"}

    after = await client.get(local_url(payment["checkout_url"]))
    assert "Pay 50.00 EUR" not in after.text
    assert "Paid." in after.text


async def test_page_has_strict_headers_and_no_script(client, admin, attendee) -> None:
    event = await priced_event(client, admin)
    purchase = await buy_pending(client, attendee, event["id"])
    response = await client.get(local_url(purchase["payment"]["checkout_url"]))
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-frame-options"] == "DENY"


async def test_pressing_the_same_pay_button_twice_pays_once(client, db, admin, attendee) -> None:
    event = await priced_event(client, admin)
    purchase = await buy_pending(client, attendee, event["id"])
    page = await open_checkout(client, purchase)

    first = await press_pay(client, page)
    second = await press_pay(client, page)

    assert (first.status_code, second.status_code) == (303, 303)
    assert len(await payments_for(db, page.order_id)) == 1
    assert await refunds_for(db, page.order_id) == []
    assert await ticket_mails(db, page.order_id) == 1


async def test_paying_an_already_paid_order_refunds_the_second_payment(
    client, worker, db, admin, attendee
) -> None:
    event = await priced_event(client, admin)
    purchase = await buy_pending(client, attendee, event["id"])
    first_tab = await open_checkout(client, purchase)
    second_tab = await open_checkout(client, purchase)
    assert first_tab.attempt != second_tab.attempt

    await press_pay(client, first_tab)
    again = await press_pay(client, second_tab)

    landing = await client.get(again.headers["location"])
    assert "already paid" in landing.text
    accepted, refused = await payments_for(db, purchase["order"]["id"])
    assert (accepted.status, refused.status, refused.refusal) == ("accepted", "refused", "duplicate")
    (refund,) = await refunds_for(db, purchase["order"]["id"])
    assert (refund.payment_id, refund.amount_cents, refund.status) == (refused.id, PRICE, "pending")
    assert (await order_row(db, purchase["order"]["id"])).refunded_cents == 0  # the order's own money stays

    assert await worker.refunds() == 1
    (refund,) = await refunds_for(db, purchase["order"]["id"])
    assert refund.status == "succeeded"
    assert refund.provider_refund_id == f"sim_re_{refund.id}"
    assert (await order_row(db, purchase["order"]["id"])).status == "paid"
    (await inventory(db, event["id"])).assert_consistent()


async def test_cancel_button_releases_the_seats(client, db, admin, attendee) -> None:
    event = await priced_event(client, admin, capacity=2)
    purchase = await buy_pending(client, attendee, event["id"], quantity=2)
    page = await open_checkout(client, purchase)

    cancelled = await press_cancel(client, page)

    assert cancelled.status_code == 303
    landing = await client.get(cancelled.headers["location"])
    assert "nothing was charged" in landing.text
    assert (await order_row(db, page.order_id)).status == "cancelled"
    assert await ticket_statuses(db, page.order_id) == ["cancelled", "cancelled"]
    state = await inventory(db, event["id"])
    state.assert_consistent()
    assert (state.sold, state.held) == (0, 0)
    other = await make_actor(client, db)
    assert (await buy(client, other, event["id"], 2)).status_code == 201


async def test_a_stale_pay_button_after_cancel_refunds(client, worker, db, admin, attendee) -> None:
    event = await priced_event(client, admin)
    purchase = await buy_pending(client, attendee, event["id"])
    page = await open_checkout(client, purchase)
    await press_cancel(client, page)

    await press_pay(client, page)

    (payment,) = await payments_for(db, page.order_id)
    assert (payment.status, payment.refusal) == ("refused", "order_closed")
    assert (await order_row(db, page.order_id)).status == "cancelled"
    assert await worker.refunds() == 1
    assert [r.status for r in await refunds_for(db, page.order_id)] == ["succeeded"]
    (await inventory(db, event["id"])).assert_consistent()


async def test_retried_purchase_returns_the_same_checkout(client, admin, attendee) -> None:
    event = await priced_event(client, admin)
    first = await buy_pending(client, attendee, event["id"], key="retry-1")
    again = await buy(client, attendee, event["id"], 1, key="retry-1")
    assert again.status_code == 201
    assert again.json()["payment"] == first["payment"]


@pytest.mark.parametrize(
    ("path", "form", "status"),
    [
        ("/payments/simulated/{order}?token={wrong}", None, 404),
        ("/payments/simulated/{other}?token={token}", None, 404),
        ("/payments/simulated/999999?token={token}", None, 404),
        ("/payments/simulated/{order}", None, 400),
        ("/payments/simulated/{order}?token=short", None, 400),
        ("/payments/simulated/{order}?token={token}%3Cscript%3E", None, 400),
        ("/payments/simulated/-1?token={token}", None, 400),
        ("/payments/simulated/{order}/pay", {"token": "{wrong}", "attempt": "a" * 24}, 404),
        ("/payments/simulated/{other}/pay", {"token": "{token}", "attempt": "a" * 24}, 404),
        ("/payments/simulated/{order}/pay", {"token": "{token}", "attempt": "short"}, 400),
        ("/payments/simulated/{order}/pay", {"token": "{token}", "attempt": "x" * 65}, 400),
        ("/payments/simulated/{order}/pay", {"token": "{token}"}, 400),
        ("/payments/simulated/{order}/pay", {"token": "{token}", "attempt": "a" * 24, "amount": "1"}, 400),
        ("/payments/simulated/{order}/cancel", {"token": "{wrong}"}, 404),
        ("/payments/simulated/{order}/cancel", {}, 400),
        ("/payments/success?order_id={order}&token={wrong}", None, 404),
        ("/payments/success?order_id=abc&token={token}", None, 400),
        ("/payments/cancelled?session_id=cs_unknown", None, 404),
    ],
)
async def test_bad_checkout_requests_are_refused_and_change_nothing(
    client, db, admin, attendee, path, form, status
) -> None:
    event = await priced_event(client, admin)
    purchase = await buy_pending(client, attendee, event["id"])
    other = await buy_pending(client, await make_actor(client, db), event["id"])
    page = await open_checkout(client, purchase)
    values = {
        "order": page.order_id,
        "other": other["order"]["id"],
        "token": page.token,
        "wrong": "W" * len(page.token),
    }
    before = await database_state(db)

    url = path.format(**values)
    if form is None:
        response = await client.get(url)
    else:
        response = await client.post(
            url, data={k: v.format(**values) for k, v in form.items()}, follow_redirects=False
        )

    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert await database_state(db) == before


async def test_json_body_on_the_pay_form_is_refused(client, db, admin, attendee) -> None:
    event = await priced_event(client, admin)
    page = await open_checkout(client, await buy_pending(client, attendee, event["id"]))
    before = await database_state(db)
    response = await client.post(
        f"/payments/simulated/{page.order_id}/pay", json={"token": page.token, "attempt": page.attempt}
    )
    assert 400 <= response.status_code < 500
    assert await database_state(db) == before


async def test_landing_pages_without_a_checkout_are_generic(client) -> None:
    success = await client.get("/payments/success")
    cancelled = await client.get("/payments/cancelled")
    assert (success.status_code, cancelled.status_code) == (200, 200)
    assert "being processed" in success.text
    assert "Nothing was charged" in cancelled.text


async def test_checkout_page_of_an_expired_order_offers_no_payment(
    client, worker, db, admin, attendee
) -> None:
    event = await priced_event(client, admin)
    purchase = await buy_pending(client, attendee, event["id"])
    await expire_hold(db, purchase["order"]["id"])
    assert await worker.expire_holds() == 1

    page = await client.get(local_url(purchase["payment"]["checkout_url"]))

    assert 'id="pay"' not in page.text
    assert "expired" in page.text


async def test_pending_order_paid_after_its_time_but_before_the_sweep_is_accepted(
    client, db, admin, attendee
) -> None:
    """Until released, the seats are still held for the order: the payment simply pays it."""
    event = await priced_event(client, admin)
    purchase = await buy_pending(client, attendee, event["id"])
    page = await open_checkout(client, purchase)
    await expire_hold(db, page.order_id)

    await press_pay(client, page)

    assert (await order_row(db, page.order_id)).status == "paid"
    assert await ticket_statuses(db, page.order_id) == ["active"]
    (await inventory(db, event["id"])).assert_consistent()


async def test_ticket_cancelled_while_unpaid_is_refunded_when_the_order_is_paid(
    client, db, admin, attendee
) -> None:
    event = await priced_event(client, admin, capacity=3)
    purchase = await buy_pending(client, attendee, event["id"], quantity=2)
    page = await open_checkout(client, purchase)
    first = purchase["tickets"][0]["id"]
    assert (await client.post(f"/tickets/{first}/cancel", headers=attendee.headers)).status_code == 200

    await press_pay(client, page)

    assert (await order_row(db, page.order_id)).status == "paid"
    assert await ticket_statuses(db, page.order_id) == ["cancelled", "active"]
    (refund,) = await refunds_for(db, page.order_id)
    assert (refund.amount_cents, refund.reason) == (PRICE, "tickets_gone")
    state = await inventory(db, event["id"])
    state.assert_consistent()
    assert (state.sold, state.held) == (1, 0)


async def test_cancelling_paid_tickets_refunds_each_ticket_once(client, worker, db, admin, attendee) -> None:
    event = await priced_event(client, admin)
    purchase = await buy_pending(client, attendee, event["id"], quantity=3)
    await pay_order(client, purchase)
    order_id = purchase["order"]["id"]
    first, second, _ = (t["id"] for t in purchase["tickets"])

    assert (await client.post(f"/tickets/{first}/cancel", headers=attendee.headers)).status_code == 200
    assert (await client.post(f"/tickets/{first}/cancel", headers=attendee.headers)).status_code == 409
    assert (await client.post(f"/tickets/{second}/cancel", headers=admin.headers)).status_code == 200

    refunds = await refunds_for(db, order_id)
    assert [(r.ticket_id, r.amount_cents, r.reason) for r in refunds] == [
        (first, PRICE, "ticket_cancelled"),
        (second, PRICE, "ticket_cancelled"),
    ]
    order = await order_row(db, order_id)
    assert order.refunded_cents == 2 * PRICE
    (payment,) = await payments_for(db, order_id)
    assert payment.refunded_cents == 2 * PRICE
    assert await worker.refunds() == 2
    assert {r.status for r in await refunds_for(db, order_id)} == {"succeeded"}
    assert await worker.refunds() == 0
    state = await inventory(db, event["id"])
    state.assert_consistent()
    assert state.sold == 1


async def test_refund_order_hook_returns_what_remains_paid(client, worker, db, admin, attendee) -> None:
    """The hook the event cancellation calls: everything not refunded yet, never more."""
    event = await priced_event(client, admin)
    purchase = await buy_pending(client, attendee, event["id"], quantity=3)
    await pay_order(client, purchase)
    order_id = purchase["order"]["id"]
    await client.post(f"/tickets/{purchase['tickets'][0]['id']}/cancel", headers=attendee.headers)
    service = worker.payments

    async with db() as session:
        order = await session.get(Order, order_id)
        await service.refund_order(session, order, None)
        await service.refund_order(session, order, None)  # nothing left the second time
        await session.commit()

    refunds = await refunds_for(db, order_id)
    assert [(r.amount_cents, r.reason) for r in refunds] == [
        (PRICE, "ticket_cancelled"),
        (2 * PRICE, "event_cancelled"),
    ]
    assert (await order_row(db, order_id)).refunded_cents == 3 * PRICE
