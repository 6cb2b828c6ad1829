"""The outbox is transactional: messages commit and roll back with the change that causes them,
and several workers never deliver one twice."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from sqlalchemy import func, select, update

from tests.support.api import buy, make_actor, make_event
from tests.support.mail import (
    app_context,
    bought,
    delivery_for,
    outbox_rows,
    worker_pass,
)
from ticketflow.db.base import utc_now
from ticketflow.db.config import create_engine
from ticketflow.db.models.events import Event
from ticketflow.db.models.orders import Order
from ticketflow.db.models.outbox import OutboxMessage, OutboxStatus
from ticketflow.db.models.tickets import Ticket
from ticketflow.domain.notifications.outbox import OutboxNotifier
from ticketflow.lib.state import AppContext


class PurchaseFailsAfterQueueing(Exception):
    pass


class FailingAfterInsert(OutboxNotifier):
    """The real notifier, followed by a failure later in the same purchase transaction. It notes
    how many messages the transaction held at that moment, for the test to assert."""

    queued_before_failure: int | None = None

    async def tickets_issued(self, session, order_id: int) -> None:
        await super().tickets_issued(session, order_id)
        self.queued_before_failure = await session.scalar(select(func.count()).select_from(OutboxMessage))
        raise PurchaseFailsAfterQueueing

    async def tickets_issued_to(self, outbox, holder, *, event_id: int, order_id: int) -> None:
        """The same on the driver connection of a free purchase (the rows its INSERT wrote)."""
        counting = CountingOutbox(outbox)
        await super().tickets_issued_to(counting, holder, event_id=event_id, order_id=order_id)
        self.queued_before_failure = counting.written
        raise PurchaseFailsAfterQueueing


class CountingOutbox:
    def __init__(self, outbox) -> None:
        self.outbox = outbox
        self.written = 0

    async def queue(self, rows) -> int:
        self.written += await self.outbox.queue(rows)
        return self.written


async def count(db, model) -> int:
    async with db() as session:
        return int(await session.scalar(select(func.count()).select_from(model)))


@pytest.mark.parametrize("key", [None, "retry-safe-1"], ids=["free-purchase-path", "full-path"])
async def test_a_purchase_that_rolls_back_sends_nothing(app, client, db, smtp_server, worker, key) -> None:
    admin = await make_actor(client, db, role="admin")
    holder = await make_actor(client, db)
    event = await make_event(client, admin, capacity=5)
    context = app_context(app)
    failing = FailingAfterInsert(context.notifier.identity)
    context.notifier = failing

    response = await buy(client, holder, event["id"], quantity=2, key=key)

    assert response.status_code == 500
    assert failing.queued_before_failure == 1  # the message was in the transaction...
    assert await count(db, OutboxMessage) == 0  # ... and went away with it
    assert await count(db, Order) == 0
    assert await count(db, Ticket) == 0
    async with db() as session:
        stored = await session.get(Event, event["id"])
    assert (stored.tickets_sold, stored.tickets_held) == (0, 0)
    assert (await worker_pass(worker)).claimed == 0
    assert smtp_server.messages == []


async def test_hooks_write_in_the_callers_transaction_and_never_commit(client, db, worker) -> None:
    purchase = await bought(client, db)
    order_id, event = purchase.order["id"], purchase.event
    assert await count(db, OutboxMessage) == 1
    notifier = worker.notifier

    async with db() as session:
        await notifier.tickets_issued(session, order_id)
        moment = utc_now()  # the event's cancellation took its tickets at this moment
        await session.execute(
            update(Ticket).where(Ticket.order_id == order_id).values(status="cancelled", cancelled_at=moment)
        )
        await notifier.event_cancelled(session, event["id"], cancelled_at=moment)
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 3
        await session.rollback()

    assert await count(db, OutboxMessage) == 1


async def queue_for_one_order(client, db, notifier, messages: int) -> set[str]:
    order_id = (await bought(client, db)).order["id"]
    async with db() as session:
        for _ in range(messages - 1):
            await notifier.tickets_issued(session, order_id)
        await session.commit()
    return {row.message_id for row in await outbox_rows(db)}


MESSAGES = 45


@pytest.mark.slow
async def test_two_workers_racing_deliver_each_message_exactly_once(
    client, db, settings, smtp_server, worker
) -> None:
    # Enough small batches that the two workers claim turn about many times (each message costs
    # a composed e-mail and an SMTP exchange, so more of them only makes the test longer).
    queued = await queue_for_one_order(client, db, worker.notifier, MESSAGES)
    assert len(queued) == MESSAGES
    other_engine = create_engine(settings)
    other = AppContext.build(settings, other_engine, worker.store)

    async def drain(context: AppContext) -> int:
        delivery = delivery_for(context, outbox_batch_size=3)
        handled = 0
        while (report := await delivery.run_once()).claimed:
            assert report.lost == 0
            handled += report.sent
        return handled

    try:
        first, second = await asyncio.gather(drain(worker), drain(other))
    finally:
        await other_engine.dispose()

    assert first + second == MESSAGES
    assert first > 0
    assert second > 0
    received = Counter(str(m.parsed()["Message-ID"]) for m in smtp_server.messages)
    assert set(received) == queued
    assert set(received.values()) == {1}
    rows = await outbox_rows(db)
    assert {(row.status, row.attempts) for row in rows} == {(OutboxStatus.SENT, 1)}
