"""Money and vouchers: refunds pay back what a ticket cost after its line's discount, and a late
payment takes its voucher's use again (or is refunded when the voucher is used up meanwhile)."""

from __future__ import annotations

from typing import Any

from tests.integration.payments.flow import (
    PRICE,
    VIP_OFF,
    VIP_PRICE,
    buy_mixed,
    expire_hold,
    inventory,
    local_url,
    open_checkout,
    order_row,
    pay_order,
    payments_for,
    press_pay,
    refunds_for,
    ticket_statuses,
    vip_sale,
    voucher_uses,
)
from tests.support.api import make_actor


def ticket_of_type(purchase: dict[str, Any], type_id: int) -> dict[str, Any]:
    return next(t for t in purchase["tickets"] if t["ticket_type_id"] == type_id)


async def test_a_cancelled_ticket_refunds_what_it_cost_after_the_discount(
    client, db, admin, attendee
) -> None:
    event, general_id, vip_id = await vip_sale(client, admin)
    purchase = await buy_mixed(client, attendee, event["id"], general_id, vip_id)
    await pay_order(client, purchase)
    order_id = purchase["order"]["id"]

    vip = await client.post(
        f"/tickets/{ticket_of_type(purchase, vip_id)['id']}/cancel", headers=attendee.headers
    )
    general = await client.post(
        f"/tickets/{ticket_of_type(purchase, general_id)['id']}/cancel", headers=attendee.headers
    )

    assert (vip.status_code, general.status_code) == (200, 200)
    assert [r.amount_cents for r in await refunds_for(db, order_id)] == [VIP_PRICE - VIP_OFF, PRICE]
    # The last ticket goes with the order: together the refunds are exactly what was paid.
    assert (await client.post(f"/orders/{order_id}/cancel", headers=attendee.headers)).status_code == 200
    refunds = await refunds_for(db, order_id)
    assert [r.amount_cents for r in refunds][2:] == [VIP_PRICE - VIP_OFF]
    assert sum(r.amount_cents for r in refunds) == purchase["order"]["amount_cents"]
    assert (await order_row(db, order_id)).status == "refunded"
    assert await voucher_uses(db) == 0
    (await inventory(db, event["id"])).assert_consistent()


async def test_money_for_tickets_cancelled_before_payment_goes_back_at_their_price(
    client, db, admin, attendee
) -> None:
    event, general_id, vip_id = await vip_sale(client, admin)
    purchase = await buy_mixed(client, attendee, event["id"], general_id, vip_id)
    page = await open_checkout(client, purchase)
    cancelled = await client.post(
        f"/tickets/{ticket_of_type(purchase, vip_id)['id']}/cancel", headers=attendee.headers
    )
    assert cancelled.status_code == 200, cancelled.text

    assert (await press_pay(client, page)).status_code == 303

    assert (await order_row(db, page.order_id)).status == "paid"
    (refund,) = await refunds_for(db, page.order_id)
    assert (refund.amount_cents, refund.reason) == (VIP_PRICE - VIP_OFF, "tickets_gone")


async def test_a_late_payment_takes_its_voucher_use_again(client, worker, db, admin, attendee) -> None:
    event, general_id, vip_id = await vip_sale(client, admin)
    page = await open_checkout(client, await buy_mixed(client, attendee, event["id"], general_id, vip_id))
    await expire_hold(db, page.order_id)
    await worker.expire_holds()
    assert await voucher_uses(db) == 0  # given back on expiry

    assert (await press_pay(client, page)).status_code == 303

    assert (await order_row(db, page.order_id)).status == "paid"
    assert await voucher_uses(db) == 1
    assert await ticket_statuses(db, page.order_id) == ["cancelled"] * 3 + ["active"] * 3
    # ...so nobody else redeems it now.
    other = await make_actor(client, db)
    body = {"items": [{"ticket_type_id": vip_id, "quantity": 1}], "voucher_code": "VIP-OFF"}
    refused = await client.post(f"/events/{event['id']}/tickets", json=body, headers=other.headers)
    assert (refused.status_code, refused.json()["extra"]["reason"]) == (422, "voucher_used_up")


async def test_a_late_payment_whose_voucher_was_used_up_meanwhile_is_refunded(
    client, worker, db, admin, attendee
) -> None:
    event, general_id, vip_id = await vip_sale(client, admin)
    page = await open_checkout(client, await buy_mixed(client, attendee, event["id"], general_id, vip_id))
    await expire_hold(db, page.order_id)
    await worker.expire_holds()
    other = await make_actor(client, db)
    await pay_order(client, await buy_mixed(client, other, event["id"], general_id, vip_id))

    await press_pay(client, page)

    assert (await order_row(db, page.order_id)).status == "expired"
    (payment,) = await payments_for(db, page.order_id)
    assert (payment.status, payment.refusal) == ("refused", "late")
    (refund,) = await refunds_for(db, page.order_id)
    assert (refund.amount_cents, refund.reason) == (payment.amount_cents, "payment_refused")
    assert await voucher_uses(db) == 1
    assert await ticket_statuses(db, page.order_id) == ["cancelled"] * 3
    state = await inventory(db, event["id"])
    state.assert_consistent()
    assert (state.sold, state.held) == (3, 0)  # the other buyer's; the refused order took none back


async def test_the_checkout_page_shows_the_order_line_by_line(client, admin, attendee) -> None:
    event, general_id, vip_id = await vip_sale(client, admin)
    purchase = await buy_mixed(client, attendee, event["id"], general_id, vip_id)
    general = purchase["order"]["lines"][0]["name"]

    page = await client.get(local_url(purchase["payment"]["checkout_url"]))

    assert page.status_code == 200
    text = " ".join(page.text.split())
    assert f"1 \u00d7 {general} · {PRICE / 100:.2f} EUR" in text
    assert f"2 \u00d7 VIP · {2 * (VIP_PRICE - VIP_OFF) / 100:.2f} EUR" in text
    assert f"{(PRICE + 2 * (VIP_PRICE - VIP_OFF)) / 100:.2f} EUR" in text
