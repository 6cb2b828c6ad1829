"""Payments racing cancellations on MariaDB, interleaved for real: one transaction is held open
inside, right after it took its locks; the other starts, reads (MariaDB's REPEATABLE READ takes its
snapshot there) and waits for the event's lock; then the first commits and the second goes on.

What the second does after its wait is read under its locks, not from its snapshot: an order paid
meanwhile is refunded when cancelled (by its buyer or with its event), a ticket cancelled meanwhile
is refunded when the order is paid, and a refund already made meanwhile is counted before the
rest is refunded. Each ends with one full refund and counters that equal the tickets.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import select

from tests.integration.payments.flow import (
    PRICE,
    buy_pending,
    only_payment,
    order_row,
    priced_event,
    refunds_for,
    sold_and_held,
    ticket_statuses,
)
from tests.support.api import Actor
from tests.support.databases import waiting_for_row_locks
from tests.support.payments import Worker
from ticketflow.db.models.payments import Checkout
from ticketflow.db.models.users import User
from ticketflow.domain.payments import settlement
from ticketflow.domain.payments.providers import PaymentNotice
from ticketflow.domain.tickets import service as tickets_service
from ticketflow.domain.tickets.orders import OrderService
from ticketflow.domain.tickets.service import TicketService, TransferTerms

pytestmark = [pytest.mark.mysql, pytest.mark.parametrize("database_url", ["mysql"], indirect=True)]

WAITS_FOR_THE_EVENT = "UPDATE events%"
"""The first statement of `lock_event`: where the second transaction queues behind the first."""


def pause_after_first_call(monkeypatch, module: Any, name: str) -> tuple[asyncio.Event, asyncio.Event]:
    """The first call of `module.name` (a locking step) returns only when released, its
    transaction open with the locks it took; later calls run through. Returns (holding, release)."""
    holding, release = asyncio.Event(), asyncio.Event()
    original: Callable[..., Awaitable[Any]] = getattr(module, name)

    async def pausing(*args: Any, **kwargs: Any) -> Any:
        result = await original(*args, **kwargs)
        if not holding.is_set():
            holding.set()
            await release.wait()
        return result

    monkeypatch.setattr(module, name, pausing)
    return holding, release


async def notice_for(db, order_id: int, amount_cents: int) -> PaymentNotice:
    """What the simulated provider reports when the order's Pay button is pressed."""
    async with db() as session:
        checkout = await session.scalar(select(Checkout).where(Checkout.order_id == order_id))
    assert checkout is not None
    return PaymentNotice(
        provider=checkout.provider,
        event_id=f"evt_race_{order_id}",
        event_type="simulated.payment_succeeded",
        checkout_id=checkout.external_id,
        order_id=order_id,
        payment_id=f"pi_race_{order_id}",
        amount_cents=amount_cents,
        currency="EUR",
    )


async def user(db, actor: Actor) -> User:
    async with db() as session:
        found = await session.get(User, actor.id)
    assert found is not None
    return found


def ticket_service(worker: Worker, session: Any) -> TicketService:
    payments = worker.payments
    terms = TransferTerms(worker.context.ticket_signer, worker.context.settings.max_transfers_per_ticket)
    return TicketService(session, payments.notifier(), payments, terms)


async def cancel_order(worker: Worker, order_id: int, actor: User) -> str:
    async with worker.context.session_maker() as session:
        view = await OrderService(session, worker.payments.notifier(), worker.payments).cancel_order(
            order_id, actor
        )
        return str(view.order.status)


async def cancel_ticket(worker: Worker, ticket_id: int, actor: User) -> str:
    async with worker.context.session_maker() as session:
        return str((await ticket_service(worker, session).cancel_ticket(ticket_id, actor)).ticket.status)


async def cancel_event(worker: Worker, event_id: int) -> str:
    async with worker.context.session_maker() as session:
        return str((await ticket_service(worker, session).cancel_event(event_id)).status)


async def second_waits_for_first(
    db, holding: asyncio.Event, release: asyncio.Event, first: asyncio.Task[Any], second: Awaitable[Any]
) -> Any:
    """`first` holds its locks (paused); `second` starts, reads, and waits for the event's lock;
    then `first` goes on and commits. Returns what `second` returns."""
    await holding.wait()
    waiting = asyncio.ensure_future(second)
    await waiting_for_row_locks(db, WAITS_FOR_THE_EVENT, waiting)
    release.set()
    await first
    return await waiting


async def two_pending_tickets(
    client, db, admin: Actor, buyer: Actor
) -> tuple[int, int, list[int], PaymentNotice]:
    """A priced event and the buyer's unpaid order of 2 tickets: (event id, order id, ticket ids,
    the notice that pays it)."""
    event = await priced_event(client, admin, capacity=5)
    purchase = await buy_pending(client, buyer, event["id"], quantity=2)
    order_id = purchase["order"]["id"]
    tickets = [t["id"] for t in purchase["tickets"]]
    return event["id"], order_id, tickets, await notice_for(db, order_id, 2 * PRICE)


async def refunded_in_full(db, event_id: int, order_id: int) -> list[tuple[int | None, int, str]]:
    """The refunds of an order paid then cancelled whole (ticket id, amount, reason), once checked
    that they return all of its payment and that nothing of it is left on sale or sold."""
    order = await order_row(db, order_id)
    assert (order.status, order.refunded_cents) == ("refunded", 2 * PRICE)
    payment = await only_payment(db, order_id)
    assert (payment.status, payment.refunded_cents) == ("accepted", 2 * PRICE)
    assert await ticket_statuses(db, order_id) == ["cancelled", "cancelled"]
    assert await sold_and_held(db, event_id) == (0, 0)
    return [(r.ticket_id, r.amount_cents, str(r.reason)) for r in await refunds_for(db, order_id)]


def order_cancelled(tickets: list[int]) -> list[tuple[int | None, int, str]]:
    return [(ticket_id, PRICE, "ticket_cancelled") for ticket_id in tickets]


def event_cancelled(tickets: list[int]) -> list[tuple[int | None, int, str]]:
    return [(None, 2 * PRICE, "event_cancelled")]


@pytest.mark.parametrize(
    ("cancelled", "refunds"),
    [("refunded", order_cancelled), ("cancelled", event_cancelled)],
    ids=["order_cancel", "event_cancel"],
)
async def test_an_order_paid_while_its_cancel_waited_is_refunded_in_full(
    client, db, worker, admin, attendee, monkeypatch, cancelled, refunds
) -> None:
    """The payment holds the event's and the order's locks; the buyer cancels the order (or the
    admin its event), which waits; once paid, the cancel refunds all of it."""
    event_id, order_id, tickets, notice = await two_pending_tickets(client, db, admin, attendee)
    holding, release = pause_after_first_call(monkeypatch, settlement, "lock_order")
    if refunds is order_cancelled:
        cancelling = cancel_order(worker, order_id, await user(db, attendee))
    else:
        cancelling = cancel_event(worker, event_id)

    paying = asyncio.create_task(worker.payments.handle_notice(notice))
    status = await second_waits_for_first(db, holding, release, paying, cancelling)

    assert (paying.result().outcome, status) == ("paid", cancelled)
    assert await refunded_in_full(db, event_id, order_id) == refunds(tickets)


async def test_a_ticket_cancelled_while_the_payment_waited_is_refunded(
    client, db, worker, admin, attendee, monkeypatch
) -> None:
    event_id, order_id, (given_up, _), notice = await two_pending_tickets(client, db, admin, attendee)
    holding, release = pause_after_first_call(monkeypatch, tickets_service, "lock_event")

    cancelling = asyncio.create_task(cancel_ticket(worker, given_up, await user(db, attendee)))
    settled = await second_waits_for_first(
        db, holding, release, cancelling, worker.payments.handle_notice(notice)
    )

    assert (cancelling.result(), settled.outcome) == ("cancelled", "paid")
    order = await order_row(db, order_id)
    assert (order.status, order.refunded_cents) == ("paid", PRICE)
    assert await ticket_statuses(db, order_id) == ["cancelled", "active"]
    (refund,) = await refunds_for(db, order_id)
    assert (refund.ticket_id, refund.amount_cents, refund.reason) == (given_up, PRICE, "tickets_gone")
    assert await sold_and_held(db, event_id) == (1, 0)


async def test_an_event_cancel_refunds_what_a_ticket_cancel_during_its_wait_left(
    client, db, worker, admin, attendee, monkeypatch
) -> None:
    """A paid order of 2: one ticket cancelled (and refunded) while the event's cancel waited;
    the event's cancel refunds the other, not the whole payment again (which the payment's
    conditional UPDATE would refuse, leaving the rest unpaid back)."""
    event_id, order_id, (given_up, _), notice = await two_pending_tickets(client, db, admin, attendee)
    await worker.payments.handle_notice(notice)
    holding, release = pause_after_first_call(monkeypatch, tickets_service, "lock_event")

    cancelling = asyncio.create_task(cancel_ticket(worker, given_up, await user(db, attendee)))
    status = await second_waits_for_first(db, holding, release, cancelling, cancel_event(worker, event_id))

    assert (cancelling.result(), status) == ("cancelled", "cancelled")
    assert await refunded_in_full(db, event_id, order_id) == [
        (given_up, PRICE, "ticket_cancelled"),
        (None, PRICE, "event_cancelled"),
    ]
