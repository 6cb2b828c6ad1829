"""Stripe Checkout against a local fake speaking Stripe's wire format; webhooks signed like Stripe's."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
import time
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.integration.payments.flow import (
    PRICE,
    buy_pending,
    database_state,
    expire_hold,
    inventory,
    order_row,
    payments_for,
    priced_event,
    refunds_for,
    ticket_statuses,
)
from tests.integration.payments.stripe_fake import SECRET_KEY, WEBHOOK_SECRET, FakeStripe, sign
from tests.support.api import buy, buy_one_of_each, make_actor, second_type
from tests.support.databases import settings_for_tests
from ticketflow.app import create_app
from ticketflow.db.models.orders import Order
from ticketflow.db.models.payments import Refund
from ticketflow.domain.payments.providers import CheckoutLine, CheckoutRequest, ProviderError
from ticketflow.domain.payments.stripe_checkout import StripeProvider, stripe_expiry
from ticketflow.settings import SettingsError

WEBHOOK = "/payments/stripe/webhook"
DROP = "<field left out>"
SUCCESS_URL = "https://shop.example/thanks?session_id={CHECKOUT_SESSION_ID}"


@pytest.fixture
def settings(database_url, fake_stripe):
    return settings_for_tests(
        database_url,
        payment_provider="stripe",
        stripe_api_key=SECRET_KEY,
        stripe_webhook_secret=WEBHOOK_SECRET,
        stripe_api_base=fake_stripe.base_url,
        stripe_success_url=SUCCESS_URL,
        public_base_url="https://tickets.example",
    )


async def deliver(client, body: bytes, signature: str | None = "valid") -> Any:
    """POST a webhook as Stripe does (signed now with the endpoint secret unless told otherwise)."""
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "Stripe/1.0"}
    if signature == "valid":
        headers["Stripe-Signature"] = sign(body)
    elif signature is not None:
        headers["Stripe-Signature"] = signature
    return await client.post(WEBHOOK, content=body, headers=headers)


async def stripe_order(
    client, admin, attendee, quantity: int = 2, **event: Any
) -> tuple[dict[str, Any], str]:
    """A pending order with its Checkout Session; returns (purchase, session id)."""
    created = await priced_event(client, admin, **event)
    purchase = await buy_pending(client, attendee, created["id"], quantity=quantity)
    assert purchase["payment"]["provider"] == "stripe"
    return purchase, purchase["payment"]["checkout_url"].rsplit("/", 1)[1]


async def test_checkout_session_carries_the_order(client, fake_stripe: FakeStripe, admin, attendee) -> None:
    purchase, session_id = await stripe_order(client, admin, attendee, quantity=3, title="Jazz Night")

    (params,) = fake_stripe.calls("/v1/checkout/sessions")
    order_id = str(purchase["order"]["id"])
    assert params["mode"] == "payment"
    assert params["line_items"] == [
        {
            "quantity": "3",
            "price_data": {
                "currency": "eur",
                "unit_amount": str(PRICE),
                "product_data": {"name": "Jazz Night"},
            },
        }
    ]
    assert params["client_reference_id"] == order_id
    assert params["metadata"] == {"order_id": order_id}
    assert params["payment_intent_data"] == {"metadata": {"order_id": order_id}}
    assert params["success_url"] == SUCCESS_URL
    assert (
        params["cancel_url"] == "https://tickets.example/payments/cancelled?session_id={CHECKOUT_SESSION_ID}"
    )
    assert params["customer_email"] == attendee.email
    assert int(params["expires_at"]) >= time.time() + 30 * 60
    method, _, _, headers = fake_stripe.requests[0]
    assert method == "POST"
    assert headers["authorization"] == f"Bearer {SECRET_KEY}"
    assert headers["idempotency-key"].startswith(f"ticketflow-checkout-{order_id}-")
    assert fake_stripe.sessions[session_id]["amount_total"] == 3 * PRICE
    assert purchase["payment"]["checkout_url"] == fake_stripe.sessions[session_id]["url"]


async def test_retried_purchase_reuses_the_session(client, fake_stripe, admin, attendee) -> None:
    event = await priced_event(client, admin)
    first = await buy_pending(client, attendee, event["id"], key="stripe-retry")
    again = await buy(client, attendee, event["id"], 1, key="stripe-retry")
    assert again.json()["payment"] == first["payment"]
    assert len(fake_stripe.sessions) == 1


async def test_completed_session_pays_the_order_exactly_once(
    client, fake_stripe, db, admin, attendee
) -> None:
    purchase, session_id = await stripe_order(client, admin, attendee)
    order_id = purchase["order"]["id"]
    waiting = await client.get(f"/payments/success?session_id={session_id}")
    assert "being confirmed" in waiting.text
    assert '<meta http-equiv="refresh"' in waiting.text
    body = fake_stripe.event("checkout.session.completed", fake_stripe.pay(session_id))

    first = await deliver(client, body)

    assert first.status_code == 200
    assert first.json() == {"received": True, "outcome": "paid", "order_id": order_id}
    assert (await order_row(db, order_id)).status == "paid"
    assert await ticket_statuses(db, order_id) == ["active", "active"]
    (payment,) = await payments_for(db, order_id)
    assert payment.provider_payment_id == fake_stripe.sessions[session_id]["payment_intent"]
    after = await database_state(db)

    replay = await deliver(client, body)  # Stripe retries the same event (new signature, same id)

    assert replay.status_code == 200
    assert replay.json()["outcome"] == "replayed"
    assert await database_state(db) == after
    landing = await client.get(f"/payments/success?session_id={session_id}")
    assert "Payment received" in landing.text


def signed_with(secret: str, timestamp: int | None = None):
    return lambda body: sign(body, secret, timestamp)


@pytest.mark.parametrize(
    ("case", "make_header", "mangle"),
    [
        ("wrong secret", signed_with("whsec_someone_else"), None),
        ("old timestamp", lambda body: sign(body, timestamp=int(time.time()) - 301), None),
        ("future timestamp", lambda body: sign(body, timestamp=int(time.time()) + 600), None),
        ("tampered body", sign, lambda body: body.replace(b'"paid"', b'"paid" ')),
        ("missing header", lambda _: None, None),
        ("empty header", lambda _: "", None),
        ("garbage header", lambda _: "not-a-signature", None),
        ("no v1 scheme", lambda body: sign(body).replace("v1=", "v0="), None),
        ("timestamp not a number", lambda body: "t=soon," + sign(body).split(",")[1], None),
        ("signature of another body", lambda _: sign(b"{}"), None),
        ("junk after the timestamp", lambda body: sign(body).replace(",v1=", "=x,v1=", 1), None),
        ("two timestamps", lambda body: f"{sign(body)},t=1", None),
        ("timestamp alone", lambda body: sign(body).split(",")[0], None),
        ("no v1 at all", lambda body: sign(body).split(",")[0] + ",v0=abc", None),
        ("huge timestamp", lambda body: "t=" + "9" * 5000 + "," + sign(body).split(",")[1], None),
        ("huge header", lambda body: sign(body).split(",")[0] + (",v1=" + "0" * 64) * 120, None),
        ("only commas", lambda _: "," * 200, None),
    ],
)
async def test_unsigned_stale_or_tampered_webhooks_are_refused(
    client, fake_stripe, db, admin, attendee, case, make_header, mangle
) -> None:
    purchase, session_id = await stripe_order(client, admin, attendee)
    body = fake_stripe.event("checkout.session.completed", fake_stripe.pay(session_id))
    header = make_header(body)
    sent = mangle(body) if mangle else body
    before = await database_state(db)

    response = await deliver(client, sent, signature=header)

    assert response.status_code == 400, (case, response.text)
    assert await database_state(db) == before
    assert (await order_row(db, purchase["order"]["id"])).status == "pending"


async def test_a_signed_body_that_is_not_an_event_is_refused(client, db) -> None:
    before = await database_state(db)
    for body in (
        b"not json",
        b'{"object": "charge"}',
        b'{"id": "evt_1", "object": "list", "type": "x", "data": {}}',
    ):
        response = await deliver(client, body)
        assert response.status_code == 400, body
    response = await deliver(client, b"\xff\xfe{}", signature=sign(b"{}"))
    assert response.status_code == 400
    assert await database_state(db) == before


async def test_rotated_secret_signature_list_is_accepted(client, fake_stripe, db, admin, attendee) -> None:
    """During a secret roll Stripe signs with both secrets: one matching `v1` is enough."""
    _, session_id = await stripe_order(client, admin, attendee)
    body = fake_stripe.event("checkout.session.completed", fake_stripe.pay(session_id))
    stamp = int(time.time())
    old = sign(body, "whsec_previous", stamp).split(",")[1]
    header = f"{sign(body, timestamp=stamp)},{old}"

    response = await deliver(client, body, signature=header)

    assert response.json()["outcome"] == "paid"


async def test_events_out_of_order_settle_once(client, fake_stripe, db, admin, attendee) -> None:
    """A delayed method: `completed` (unpaid) may arrive after `async_payment_succeeded`."""
    purchase, session_id = await stripe_order(client, admin, attendee)
    order_id = purchase["order"]["id"]
    completed_unpaid = fake_stripe.pay(session_id, status="unpaid")
    succeeded = fake_stripe.pay(session_id, status="paid")

    first = await deliver(client, fake_stripe.event("checkout.session.async_payment_succeeded", succeeded))
    late_unpaid = await deliver(client, fake_stripe.event("checkout.session.completed", completed_unpaid))
    late_paid = await deliver(client, fake_stripe.event("checkout.session.completed", succeeded))
    expired = await deliver(client, fake_stripe.event("checkout.session.expired", succeeded))

    assert first.json()["outcome"] == "paid"
    assert late_unpaid.json()["outcome"] == "ignored"
    assert late_paid.json()["outcome"] == "already_recorded"
    assert expired.json()["outcome"] == "ignored"
    assert (await order_row(db, order_id)).status == "paid"
    assert len(await payments_for(db, order_id)) == 1
    assert await refunds_for(db, order_id) == []


async def test_unpaid_completion_waits_for_the_money(client, fake_stripe, db, admin, attendee) -> None:
    _, session_id = await stripe_order(client, admin, attendee)
    before = await database_state(db)
    response = await deliver(
        client, fake_stripe.event("checkout.session.completed", fake_stripe.pay(session_id, status="unpaid"))
    )
    assert response.json() == {"received": True, "outcome": "ignored", "detail": "payment_status is unpaid"}
    assert await database_state(db) == before


async def test_late_completion_after_the_sweep_reissues_tickets(
    client, worker, fake_stripe, db, admin, attendee
) -> None:
    purchase, session_id = await stripe_order(client, admin, attendee, quantity=1)
    order_id = purchase["order"]["id"]
    await expire_hold(db, order_id)
    await worker.expire_holds()

    response = await deliver(
        client, fake_stripe.event("checkout.session.completed", fake_stripe.pay(session_id))
    )

    assert response.json()["outcome"] == "paid_late"
    assert await ticket_statuses(db, order_id) == ["cancelled", "active"]


def session_with(fake: FakeStripe, session_id: str, **changes: Any) -> dict[str, Any]:
    obj = fake.pay(session_id)
    for key, value in changes.items():
        if value == DROP:
            obj.pop(key)
        else:
            obj[key] = value
    return obj


async def completion_with(
    client, fake: FakeStripe, db, admin, session_id: str, changes: dict[str, Any]
) -> tuple[dict[str, Any], bytes]:
    """Another buyer's pending order, and the completion event of `session_id` with `changes`
    (`{other}` in them: that order's id)."""
    other, _ = await stripe_order(client, admin, await make_actor(client, db))
    filled = json.loads(json.dumps(changes).replace("{other}", str(other["order"]["id"])))
    return other, fake.event("checkout.session.completed", session_with(fake, session_id, **filled))


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"amount_total": -2 * PRICE}, 422),
        ({"amount_total": 0}, 422),
        ({"amount_total": DROP}, 422),
        ({"amount_total": "5000"}, 422),
        ({"amount_total": 2**70}, 422),
        ({"currency": "euro"}, 422),
        ({"client_reference_id": "{other}", "metadata": {"order_id": "{other}"}}, 422),
        ({"client_reference_id": "999999", "metadata": {"order_id": "999999"}}, 422),
        ({"id": "cs_" + "x" * 300}, 422),
        ({"payment_intent": "pi_" + "x" * 300}, 422),
        ({"object": "payment_intent"}, 422),
    ],
)
async def test_forged_or_malformed_payments_are_refused_and_change_nothing(
    client, fake_stripe, db, admin, attendee, changes, status
) -> None:
    _, session_id = await stripe_order(client, admin, attendee)
    _, body = await completion_with(client, fake_stripe, db, admin, session_id, changes)
    before = await database_state(db)

    response = await deliver(client, body)

    assert response.status_code == status, response.text
    assert await database_state(db) == before


@pytest.mark.parametrize(
    "changes",
    [
        {"id": "cs_test_unknown_session"},
        {"id": "cs_test_unknown_session", "client_reference_id": None, "metadata": {}},
        {"client_reference_id": None, "metadata": {}},
        {"metadata": {"order_id": "{other}"}},
        {"client_reference_id": None},
        {"metadata": {"app": "another-shop", "cart": "a1"}, "client_reference_id": "cart-a1"},
        {"client_reference_id": "1e3", "metadata": {"order_id": "1e3"}},
        {"client_reference_id": "-1", "metadata": {"order_id": "-1"}},
        {"client_reference_id": "99999999999999999999", "metadata": {"order_id": "99999999999999999999"}},
        {"client_reference_id": "0" * 300, "metadata": {"order_id": "0" * 300}},
    ],
)
async def test_genuine_events_of_sessions_made_elsewhere_are_acknowledged_and_change_nothing(
    client, fake_stripe, db, admin, attendee, changes, caplog
) -> None:
    """A Payment Link, or another application on the same Stripe account: its sessions are not
    ours. Stripe retries any answer but a 2xx for days and then disables the endpoint (our own
    payments' notifications with it), so the event is acknowledged, and nothing changes."""
    purchase, session_id = await stripe_order(client, admin, attendee)
    other, body = await completion_with(client, fake_stripe, db, admin, session_id, changes)
    before = await database_state(db)

    response = await deliver(client, body)

    assert response.status_code == 200, response.text
    assert response.json() == {
        "received": True,
        "outcome": "ignored",
        "detail": "not a checkout session of this server",
    }
    assert await database_state(db) == before
    assert (await order_row(db, purchase["order"]["id"])).status == "pending"
    assert (await order_row(db, other["order"]["id"])).status == "pending"
    event_id = json.loads(body)["id"]
    assert [
        r.levelname for r in caplog.records if event_id in r.getMessage() and "ignored" in r.getMessage()
    ] == ["INFO"]


async def test_overlong_event_id_is_refused(client, fake_stripe, db, admin, attendee) -> None:
    _, session_id = await stripe_order(client, admin, attendee)
    body = fake_stripe.event(
        "checkout.session.completed", fake_stripe.pay(session_id), event_id="evt_" + "9" * 300
    )
    before = await database_state(db)
    assert (await deliver(client, body)).status_code == 400
    assert await database_state(db) == before


@pytest.mark.parametrize(("field", "value"), [("amount_total", 2 * PRICE - 1), ("currency", "usd")])
async def test_money_that_does_not_match_the_order_is_refunded(
    client, worker, fake_stripe, db, admin, attendee, field, value
) -> None:
    purchase, session_id = await stripe_order(client, admin, attendee)
    order_id = purchase["order"]["id"]
    body = fake_stripe.event(
        "checkout.session.completed", session_with(fake_stripe, session_id, **{field: value})
    )

    response = await deliver(client, body)

    assert response.json()["outcome"] == "refunded"
    assert response.json()["refusal"] == "amount_mismatch"
    assert (await order_row(db, order_id)).status == "pending"
    assert await ticket_statuses(db, order_id) == ["pending", "pending"]
    (refund,) = await refunds_for(db, order_id)
    paid = value if field == "amount_total" else 2 * PRICE
    assert refund.amount_cents == paid
    assert await worker.refunds() == 1
    intent = fake_stripe.sessions[session_id]["payment_intent"]
    assert [r["amount"] for r in fake_stripe.refunds_of(intent)] == [paid]
    (await inventory(db, purchase["order"]["event_id"])).assert_consistent()


async def test_a_second_payment_of_a_paid_order_is_refunded_by_stripe(
    client, worker, fake_stripe, db, admin, attendee
) -> None:
    purchase, session_id = await stripe_order(client, admin, attendee)
    order_id = purchase["order"]["id"]
    await deliver(client, fake_stripe.event("checkout.session.completed", fake_stripe.pay(session_id)))
    second = fake_stripe.pay(session_id, intent="pi_test_second_charge")

    response = await deliver(client, fake_stripe.event("checkout.session.completed", second))

    assert response.json()["refusal"] == "duplicate"
    assert await worker.refunds() == 1
    assert [r["amount"] for r in fake_stripe.refunds_of("pi_test_second_charge")] == [2 * PRICE]
    (refund,) = await refunds_for(db, order_id)
    assert refund.status == "succeeded"
    assert refund.provider_refund_id in fake_stripe.refunds


async def paid_then_one_ticket_cancelled(
    client, fake: FakeStripe, admin, attendee
) -> tuple[dict[str, Any], str]:
    """A paid order of two tickets, one cancelled by its holder (a refund of one ticket is due):
    the purchase and the payment intent."""
    purchase, session_id = await stripe_order(client, admin, attendee)
    await deliver(client, fake.event("checkout.session.completed", fake.pay(session_id)))
    ticket_id = purchase["tickets"][0]["id"]
    assert (await client.post(f"/tickets/{ticket_id}/cancel", headers=attendee.headers)).status_code == 200
    return purchase, fake.sessions[session_id]["payment_intent"]


async def test_refunds_are_retried_until_stripe_answers(
    client, worker, fake_stripe, db, admin, attendee
) -> None:
    purchase, intent = await paid_then_one_ticket_cancelled(client, fake_stripe, admin, attendee)
    order_id = purchase["order"]["id"]

    fake_stripe.failures["/v1/refunds"] = 1
    assert await worker.refunds() == 1
    (refund,) = await refunds_for(db, order_id)
    assert (refund.status, refund.attempts) == ("pending", 1)
    assert "Stripe" in refund.last_error
    assert refund.next_attempt_at > dt.datetime.now(dt.UTC)
    assert await worker.refunds() == 0  # backing off

    fake_stripe.down = True
    await make_due(db, refund.id)
    assert await worker.refunds() == 1
    (refund,) = await refunds_for(db, order_id)
    assert (refund.status, refund.attempts) == ("pending", 2)

    fake_stripe.down = False
    await make_due(db, refund.id)
    assert await worker.refunds() == 1
    (refund,) = await refunds_for(db, order_id)
    assert (refund.status, refund.attempts, refund.last_error) == ("succeeded", 3, None)
    (done,) = fake_stripe.refunds_of(intent)
    assert (done["amount"], done["id"]) == (PRICE, refund.provider_refund_id)
    assert done["metadata"] == {"order_id": str(order_id), "refund_id": str(refund.id)}
    keys = [h.get("idempotency-key") for method, path, _, h in fake_stripe.requests if path == "/v1/refunds"]
    # Stripe keeps the 500 for the first key and replays it: the last attempt asked whether money
    # went back all the same (no), then sent the next key
    assert keys == [keys[0], keys[0], None, f"{keys[0]}-2"]


async def test_a_refund_whose_500_hid_the_money_going_back_is_not_paid_twice(
    client, worker, fake_stripe, db, admin, attendee
) -> None:
    """Stripe refunded and still answered 500 (and replays that 500 for the key): the retry finds
    the refund carrying our refund's id instead of sending it again under the next key."""
    purchase, intent = await paid_then_one_ticket_cancelled(client, fake_stripe, admin, attendee)

    fake_stripe.failures_after_work["/v1/refunds"] = 1
    assert await worker.refunds() == 1
    (refund,) = await refunds_for(db, purchase["order"]["id"])
    assert (refund.status, refund.attempts) == ("pending", 1)
    await make_due(db, refund.id)
    assert await worker.refunds() == 1

    (refund,) = await refunds_for(db, purchase["order"]["id"])
    (done,) = fake_stripe.refunds_of(intent)  # once
    assert (refund.status, refund.provider_refund_id, done["amount"]) == ("succeeded", done["id"], PRICE)
    created = [
        h.get("idempotency-key")
        for m, path, _, h in fake_stripe.requests
        if (m, path) == ("POST", "/v1/refunds")
    ]
    assert len(set(created)) == 1  # never sent under a second key


async def make_due(db, refund_id: int) -> None:
    async with db() as session:
        await session.execute(
            update(Refund).where(Refund.id == refund_id).values(next_attempt_at=dt.datetime.now(dt.UTC))
        )
        await session.commit()


async def test_checkout_failure_keeps_the_order_and_a_retry_succeeds(
    client, fake_stripe, db, admin, attendee
) -> None:
    event = await priced_event(client, admin, capacity=3)
    fake_stripe.failures["/v1/checkout/sessions"] = 1

    failed = await buy(client, attendee, event["id"], 2, key="flaky-stripe")

    assert failed.status_code == 409
    assert "payment provider" in failed.json()["detail"]
    state = await inventory(db, event["id"])
    assert state.held == 2  # the order waits for its checkout; the sweep releases it if never paid
    await asyncio.sleep(1.1)  # Stripe replays the 500 it stored for the first attempt's key
    retried = await buy(client, attendee, event["id"], 2, key="flaky-stripe")
    assert retried.status_code == 201, retried.text
    assert retried.json()["payment"]["provider"] == "stripe"
    (session,) = fake_stripe.sessions.values()
    assert retried.json()["payment"]["checkout_url"] == session["url"]
    sent = [
        (h["idempotency-key"], p) for _, path, p, h in fake_stripe.requests if path == "/v1/checkout/sessions"
    ]
    # the failed attempt again (its 500 replayed), then the next attempt, with the same parameters
    assert [key for key, _ in sent] == [sent[0][0], sent[0][0], sent[0][0][:-1] + "2"]
    assert all(params == sent[0][1] for _, params in sent)
    async with db() as session_db:
        (order,) = await session_db.scalars(select(Order))
    assert order.status == "pending"
    again = await buy(client, attendee, event["id"], 2, key="flaky-stripe")
    assert again.json()["payment"] == retried.json()["payment"]
    assert len(fake_stripe.sessions) == 1


async def test_simulated_page_is_not_served_with_stripe(client, admin, attendee) -> None:
    event = await priced_event(client, admin)
    purchase = await buy_pending(client, attendee, event["id"])
    response = await client.get(f"/payments/simulated/{purchase['order']['id']}?token={'a' * 43}")
    assert response.status_code == 404


async def test_stripe_needs_its_keys(database_url) -> None:
    with pytest.raises(SettingsError, match="STRIPE_API_KEY"):
        create_app(settings_for_tests(database_url, payment_provider="stripe"))
    with pytest.raises(SettingsError, match="STRIPE_WEBHOOK_SECRET"):
        create_app(settings_for_tests(database_url, payment_provider="stripe", stripe_api_key=SECRET_KEY))


async def test_a_mixed_order_is_charged_line_by_line_to_the_cent(
    client, fake_stripe, db, admin, attendee
) -> None:
    """Two types whose total does not divide by the number of tickets: Stripe is asked for each
    line, the session's total is the order's amount, and its payment settles the order."""
    event = await priced_event(client, admin, title="Gala")
    type_ids = await second_type(client, admin, event["id"], name="VIP", price_cents=5001)
    purchase = await buy_one_of_each(client, attendee, event["id"], type_ids)
    amount = purchase["order"]["amount_cents"]
    assert amount == PRICE + 5001
    assert amount % 2 == 1

    (params,) = fake_stripe.calls("/v1/checkout/sessions")
    lines = [
        (item["quantity"], item["price_data"]["unit_amount"], item["price_data"]["product_data"]["name"])
        for item in params["line_items"]
    ]
    general_name = purchase["order"]["lines"][0]["name"]
    assert lines == [("1", str(PRICE), f"Gala - {general_name}"), ("1", "5001", "Gala - VIP")]
    session_id = purchase["payment"]["checkout_url"].rsplit("/", 1)[1]
    assert fake_stripe.sessions[session_id]["amount_total"] == amount

    paid = await deliver(client, fake_stripe.event("checkout.session.completed", fake_stripe.pay(session_id)))
    assert paid.json()["outcome"] == "paid", paid.text
    assert (await order_row(db, purchase["order"]["id"])).status == "paid"


async def test_checkout_failure_without_a_key_cancels_the_order_and_frees_its_seats(
    client, fake_stripe, db, admin, attendee
) -> None:
    """Without an Idempotency-Key no retry can reach the order whose checkout failed: it is
    cancelled at once, its seats back on sale and the buyer's share of unpaid seats free, so a
    new attempt (here after Stripe recovered) buys them."""
    event = await priced_event(client, admin, capacity=2, max_per_order=2)
    fake_stripe.failures["/v1/checkout/sessions"] = 1

    failed = await buy(client, attendee, event["id"], 2)

    assert failed.status_code == 409
    assert "nothing was bought" in failed.json()["detail"]
    state = await inventory(db, event["id"])
    state.assert_consistent()
    assert (state.held, state.sold) == (0, 0)
    async with db() as session:
        assert list(await session.scalars(select(Order.status))) == ["cancelled"]
    again = await buy(client, attendee, event["id"], 2)
    assert again.status_code == 201, again.text
    assert again.json()["payment"]["provider"] == "stripe"


def checkout_request() -> CheckoutRequest:
    """One order's checkout, made now with a 15-minute hold."""
    now = dt.datetime.now(dt.UTC)
    return CheckoutRequest(
        order_id=7,
        title="Jazz Night",
        lines=(CheckoutLine("Jazz Night", 2, PRICE),),
        currency="EUR",
        customer_email="a@example.com",
        expires_at=now + dt.timedelta(minutes=15),
        ordered_at=now,
        idempotency_key="ticketflow-checkout-7-1",
    )


async def test_a_retry_after_a_lost_answer_gets_the_same_session(settings, fake_stripe) -> None:
    """Stripe made the session but its answer never came: the retry, a second later, sends the
    same parameters under the same key and gets that session back (no idempotency_error)."""
    provider = StripeProvider(settings)
    request = checkout_request()
    now = request.ordered_at
    first = await provider.open_checkout(request)
    await asyncio.sleep(1.1)
    again = await provider.open_checkout(request)

    assert again == first
    assert len(fake_stripe.sessions) == 1
    (one, two) = [(h["idempotency-key"], p) for _, _, p, h in fake_stripe.requests]
    assert one == two
    assert int(one[1]["expires_at"]) == int((now + dt.timedelta(minutes=45)).timestamp())


async def test_a_retry_with_other_parameters_is_another_request(settings, fake_stripe) -> None:
    """The buyer changed their e-mail between a failed attempt and the retry: the retry is a
    request of its own (its key names its parameters), not Stripe's idempotency_error."""
    provider = StripeProvider(settings)
    request = checkout_request()
    fake_stripe.failures["/v1/checkout/sessions"] = 1
    with pytest.raises(ProviderError):
        await provider.open_checkout(request)

    opened = await provider.open_checkout(dataclasses.replace(request, customer_email="new@example.com"))

    (session,) = fake_stripe.sessions.values()
    assert (opened.external_id, session["customer_email"]) == (session["id"], "new@example.com")
    keys = [h["idempotency-key"] for _, _, _, h in fake_stripe.requests]
    assert len(set(keys)) == 2


@pytest.mark.parametrize(
    ("hold", "since_order", "expected"),
    [
        (15, 0, 45),  # a short hold: Stripe's 30 minutes and a step past the order
        (15, 13, 45),  # still far enough from now: the same expiry
        (15, 14, 60),  # too close now: the next step
        (15, 40, 75),
        (90, 0, 90),  # a hold longer than Stripe's minimum: its end
        (90, 58, 90),
        (90, 59, 105),
        (40, 0, 45),  # a hold shorter than the first step: the step
        (30 * 60, 0, 23 * 60 + 55),  # a hold longer than Stripe's maximum: the maximum, from the order
        (30 * 60, 1, 23 * 60 + 55),  # the same a minute later (not moved with now)
    ],
)
def test_the_session_expiry_is_the_same_for_every_retry_while_stripe_accepts_it(
    hold: int, since_order: int, expected: int
) -> None:
    ordered = dt.datetime(2026, 5, 1, 20, 0, tzinfo=dt.UTC)
    now = ordered + dt.timedelta(minutes=since_order)
    expiry = stripe_expiry(ordered + dt.timedelta(minutes=hold), ordered, now)
    assert expiry == int((ordered + dt.timedelta(minutes=expected)).timestamp())
    assert expiry >= (now + dt.timedelta(minutes=30)).timestamp()
