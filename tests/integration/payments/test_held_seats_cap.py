"""One buyer cannot hoard an event in unpaid orders: held seats are capped per buyer and event."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import settings_for_tests
from tests.integration.payments.flow import buy_pending, expire_hold, inventory, pay_order, priced_event
from tests.support.api import buy, make_actor
from ticketflow.domain.tickets.purchase import PurchaseService, TooManySeatsHeld
from ticketflow.settings import Settings, SettingsError

MAX_PER_ORDER = 3


@pytest.fixture(params=[0, 2], ids=["cap-is-max-per-order", "cap-from-setting"])
def settings(database_url: str, request: pytest.FixtureRequest) -> Settings:
    return settings_for_tests(database_url, max_held_seats_per_user=request.param)


def cap_of(settings: Settings) -> int:
    return settings.max_held_seats_per_user or MAX_PER_ORDER


async def test_holds_beyond_the_cap_are_refused_until_paid(client, db, settings, admin, attendee) -> None:
    cap = cap_of(settings)
    event = await priced_event(client, admin, max_per_order=MAX_PER_ORDER)
    first = await buy_pending(client, attendee, event["id"], quantity=cap - 1)

    refused = await buy(client, attendee, event["id"], quantity=2)

    assert refused.status_code == 409
    body = refused.json()
    assert (
        f"you already hold {cap - 1} unpaid seats for this event and may hold at most {cap}" in body["detail"]
    )
    assert body["extra"] == {"held_seats": cap - 1, "max_held_seats": cap}
    assert (await inventory(db, event["id"])).held == cap - 1  # nothing taken by the refusal
    other = await make_actor(client, db)
    await buy_pending(client, other, event["id"], quantity=2)  # the cap is per buyer
    await buy_pending(client, attendee, event["id"], quantity=1)  # up to the cap itself
    await pay_order(client, first)  # paid seats are no longer held: room again
    await buy_pending(client, attendee, event["id"], quantity=cap - 1)
    assert (await inventory(db, event["id"])).held == 2 + cap


async def test_a_single_order_above_the_cap_is_refused(client, db, settings, admin, attendee) -> None:
    cap = cap_of(settings)
    event = await priced_event(client, admin, max_per_order=MAX_PER_ORDER)
    response = await buy(client, attendee, event["id"], quantity=cap + 1)
    expected = 409 if cap < MAX_PER_ORDER else 422  # else max_per_order refuses it first
    assert response.status_code == expected, response.text
    assert (await inventory(db, event["id"])).held == 0


async def test_expired_holds_do_not_count(client, db, settings, admin, attendee) -> None:
    cap = cap_of(settings)
    event = await priced_event(client, admin, max_per_order=MAX_PER_ORDER)
    held = await buy_pending(client, attendee, event["id"], quantity=cap)
    assert (await buy(client, attendee, event["id"])).status_code == 409
    await expire_hold(db, held["order"]["id"])
    await buy_pending(client, attendee, event["id"], quantity=cap)


async def test_free_purchases_hold_nothing_and_are_not_capped(client, db, settings, admin, attendee) -> None:
    event = await priced_event(client, admin, price_cents=0, max_per_order=MAX_PER_ORDER)
    for _ in range(3):
        assert (await buy(client, attendee, event["id"], quantity=MAX_PER_ORDER)).status_code == 201
    assert (await inventory(db, event["id"])).sold == 3 * MAX_PER_ORDER


def test_a_negative_cap_is_refused() -> None:
    with pytest.raises(SettingsError, match="MAX_HELD_SEATS_PER_USER"):
        Settings.from_env({"MAX_HELD_SEATS_PER_USER": "-1"}, env_file=None)


async def test_simultaneous_purchases_of_one_buyer_stay_within_the_cap(
    worker, client, db, settings, admin, attendee
) -> None:
    """Purchases interleaved on separate connections (the test client would run them one after
    another); without the locking count they all pass. Across processes: tests/e2e/tickets."""
    cap = cap_of(settings)
    event = await priced_event(client, admin, max_per_order=MAX_PER_ORDER, capacity=50)
    context = worker.context  # built in this test's event loop
    purchases = PurchaseService(
        context.engine,
        context.drivers,
        context.notifier,
        context.payments,
        context.ticket_signer,
        900,
        settings.max_held_seats_per_user,
    )

    async def one() -> str:
        try:
            await purchases.purchase(
                buyer_id=attendee.id, event_id=event["id"], quantity=1, idempotency_key=None
            )
        except TooManySeatsHeld:
            return "refused"
        return "held"

    outcomes = await asyncio.gather(*(one() for _ in range(8)))

    assert sorted(outcomes) == ["held"] * cap + ["refused"] * (8 - cap)
    assert (await inventory(db, event["id"])).held == cap
