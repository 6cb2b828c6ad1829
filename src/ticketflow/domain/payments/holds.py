"""Seats held by unpaid orders: released on expiry or cancel, turned into sold seats on payment.

Every change of an order's seats happens inside one transaction that first locks the event row
(`SELECT ... FOR UPDATE`; SQLite serialises writers with `BEGIN IMMEDIATE` instead), then changes
the order with a conditional UPDATE on its status, then its tickets, then the event counters in a
single UPDATE. The purchase takes the same locks in the same order (event, order, tickets), so
expiry, payment, cancellation and new purchases of one event queue up instead of deadlocking, and
the counters always equal the tickets: `tickets_held` = pending, `tickets_sold` = active + used.
The ticket types' `held` and `sold` move in the same transactions, after the event's, type by
type in id order (`shift_types`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ticketflow.db.models.events import Event, EventStatus
from ticketflow.db.models.orders import Order, OrderStatus
from ticketflow.db.models.ticket_types import TicketType
from ticketflow.db.models.tickets import Ticket, TicketStatus
from ticketflow.db.models.vouchers import Voucher
from ticketflow.lib.signed_codes import TicketSigner
from ticketflow.lib.ticket_codes import PLACEHOLDER_LIKE, sign_new, unsigned_placeholder

SOLD_STATUSES = (TicketStatus.ACTIVE, TicketStatus.USED)
EXPIRY_BATCH = 200
"""Orders expired by one call (the sweep comes back for the rest)."""


def rowcount(result: Any) -> int:
    return int(result.rowcount)


async def tickets_by_type(session: AsyncSession, *conditions: Any) -> dict[int, int]:
    """How many tickets matching `conditions` each type has (read before their status changes).

    A locking read: on MariaDB it sees the rows as they are now, not as the transaction's snapshot
    (taken by its first read, maybe before it waited for the event's lock) had them. The caller
    holds the event's lock, so they stay so until it commits."""
    rows = await session.execute(
        select(Ticket.ticket_type_id, func.count())
        .where(*conditions)
        .group_by(Ticket.ticket_type_id)
        .with_for_update()
    )
    return {int(type_id): int(count) for type_id, count in rows}


async def give_back_voucher(session: AsyncSession, order_id: int) -> None:
    """The order closes without being honoured (expired, cancelled, refunded): its voucher use
    is free again. Call once, when the order's status leaves pending or paid."""
    voucher_of_order = select(Order.voucher_id).where(Order.id == order_id).scalar_subquery()
    await session.execute(
        update(Voucher)
        .where(Voucher.id == voucher_of_order, Voucher.uses > 0)
        .values(uses=Voucher.uses - 1)
        .execution_options(synchronize_session=False)
    )


async def pending_by_type(session: AsyncSession, order_id: int) -> dict[int, int]:
    return await tickets_by_type(session, Ticket.order_id == order_id, Ticket.status == TicketStatus.PENDING)


async def shift_types(session: AsyncSession, counts: dict[int, int], *, held: int = 0, sold: int = 0) -> None:
    """Move the types' counters by `counts` times `held` / `sold` (+1, -1 or 0), in id order.

    The caller holds the event row lock, so these follow the event's counters without a race.
    """
    for type_id in sorted(counts):
        count = counts[type_id]
        await session.execute(
            update(TicketType)
            .where(TicketType.id == type_id)
            .values(held=TicketType.held + held * count, sold=TicketType.sold + sold * count)
            .execution_options(synchronize_session=False)
        )


async def lock_event(session: AsyncSession, event_id: int, now: dt.datetime) -> str | None:
    """Take the event row lock first, the way the purchase takes it; returns the event's status
    as the lock finds it (None: no such event).

    The purchase's conditional UPDATE may reach the row through an index (MariaDB picks
    `ix_events_starts_at` for its `starts_at > now` condition) and locks that index entry before
    the row. Locking the row by primary key first and then running such an UPDATE would take the
    two locks in the opposite order: a deadlock with any buyer in between. So the lock starts with
    the purchase's own statement shape (changing nothing), then makes sure of the row by primary
    key (for events not on sale, which that statement does not reach). On SQLite writers are
    serial and both statements just run.
    """
    await session.execute(
        update(Event)
        .where(
            Event.id == event_id,
            Event.status == EventStatus.SCHEDULED,
            Event.starts_at > now,
            Event.capacity - Event.tickets_sold - Event.tickets_held >= 0,
        )
        .values(tickets_held=Event.tickets_held)
        .execution_options(synchronize_session=False)
    )
    return await session.scalar(select(Event.status).where(Event.id == event_id).with_for_update())


async def lock_order(session: AsyncSession, order_id: int) -> Order | None:
    """The order as committed now, locked until the transaction ends."""
    return await session.scalar(
        select(Order).where(Order.id == order_id).with_for_update().execution_options(populate_existing=True)
    )


async def release_hold(
    session: AsyncSession,
    order_id: int,
    event_id: int,
    status: OrderStatus,
    now: dt.datetime,
    *,
    only_if_expired: bool,
    event_locked: bool = False,
) -> int:
    """Close a pending order (`expired` or `cancelled`) and put its seats back; returns seats freed."""
    if not event_locked:
        await lock_event(session, event_id, now)
    conditions = [Order.id == order_id, Order.status == OrderStatus.PENDING]
    if only_if_expired:
        conditions.append(Order.expires_at <= now)
    closed = await session.execute(
        update(Order)
        .where(*conditions)
        .values(status=status, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if rowcount(closed) != 1:
        return 0
    await give_back_voucher(session, order_id)
    by_type = await pending_by_type(session, order_id)
    cancelled = rowcount(
        await session.execute(
            update(Ticket)
            .where(Ticket.order_id == order_id, Ticket.status == TicketStatus.PENDING)
            .values(status=TicketStatus.CANCELLED, cancelled_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
    )
    if cancelled:
        await session.execute(
            update(Event)
            .where(Event.id == event_id)
            .values(tickets_held=Event.tickets_held - cancelled)
            .execution_options(synchronize_session=False)
        )
        await shift_types(session, by_type, held=-1)
    return cancelled


async def expire_holds(session: AsyncSession, event_id: int | None, now: dt.datetime) -> int:
    """Expire pending orders past `expires_at` (of one event, or all); returns seats released."""
    query = select(Order.id, Order.event_id).where(
        Order.status == OrderStatus.PENDING, Order.expires_at <= now
    )
    if event_id is not None:
        query = query.where(Order.event_id == event_id)
    due = (await session.execute(query.order_by(Order.event_id, Order.id).limit(EXPIRY_BATCH))).all()
    released = 0
    locked: set[int] = set()
    for order_id, order_event_id in due:  # by event: locks are taken in one order everywhere
        if order_event_id not in locked:
            await lock_event(session, order_event_id, now)
            locked.add(order_event_id)
        released += await release_hold(
            session,
            order_id,
            order_event_id,
            OrderStatus.EXPIRED,
            now,
            only_if_expired=True,
            event_locked=True,
        )
    return released


async def activate_order(session: AsyncSession, order: Order, now: dt.datetime) -> int:
    """Pending order paid: its pending tickets become active, held seats become sold seats.

    Returns how many tickets were activated (fewer than ordered when some were cancelled while
    the order was unpaid). The caller holds the event and order locks.
    """
    paid = await session.execute(
        update(Order)
        .where(Order.id == order.id, Order.status == OrderStatus.PENDING)
        .values(status=OrderStatus.PAID, paid_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if rowcount(paid) != 1:
        return 0
    by_type = await pending_by_type(session, order.id)
    activated = rowcount(
        await session.execute(
            update(Ticket)
            .where(Ticket.order_id == order.id, Ticket.status == TicketStatus.PENDING)
            .values(status=TicketStatus.ACTIVE, updated_at=now)
            .execution_options(synchronize_session=False)
        )
    )
    if activated:
        await session.execute(
            update(Event)
            .where(Event.id == order.event_id)
            .values(
                tickets_held=Event.tickets_held - activated,
                tickets_sold=Event.tickets_sold + activated,
            )
            .execution_options(synchronize_session=False)
        )
        await shift_types(session, by_type, held=-1, sold=1)
    return activated


def on_sale(start: Any, end: Any, now: dt.datetime) -> ColumnElement[bool]:
    """The sale window `[start, end)` (either open-ended when NULL) contains `now`: the purchase's
    rule (`lot_on_sale`, `find_voucher`) as a condition of a conditional UPDATE."""
    return and_(or_(start.is_(None), start <= now), or_(end.is_(None), end > now))


async def cancelled_by_expiry(session: AsyncSession, order: Order) -> dict[int, int]:
    """The tickets of an expired order that its expiry cancelled, by type: what a late payment
    issues again (locked, like every read of `tickets_by_type`).

    The expiry closes the order and cancels its pending tickets in one transaction, stamping both
    with one time (the order's `updated_at`, the tickets' `cancelled_at`), and nothing changes an
    expired order after it. A ticket its holder or an admin cancelled while the order was pending
    was cancelled by an earlier transaction, at another time - even after the hold's `expires_at`,
    before the sweep came, which is why the hold's end cannot tell them apart.
    """
    return await tickets_by_type(
        session,
        Ticket.order_id == order.id,
        Ticket.status == TicketStatus.CANCELLED,
        Ticket.cancelled_at == order.updated_at,
    )


async def cancelled_while_unpaid(session: AsyncSession, order: Order) -> list[tuple[int, int]]:
    """(id, type id) of the order's tickets its holder or an admin cancelled while it was unpaid:
    what a payment of the order refunds. Read before the payment changes the order (it moves the
    `updated_at` that tells the expiry's tickets apart), locked: on MariaDB a plain read would
    show the snapshot from before the event's lock was waited for, and miss a ticket cancelled
    meanwhile."""
    conditions = [Ticket.order_id == order.id, Ticket.status == TicketStatus.CANCELLED]
    if order.status == OrderStatus.EXPIRED:
        conditions.append(Ticket.cancelled_at != order.updated_at)
    rows = await session.execute(
        select(Ticket.id, Ticket.ticket_type_id).where(*conditions).order_by(Ticket.id).with_for_update()
    )
    return [(int(ticket_id), int(type_id)) for ticket_id, type_id in rows]


async def take_seats_for_late_payment(
    session: AsyncSession, order: Order, counts: dict[int, int], now: dt.datetime
) -> bool:
    """Sell `counts` (tickets by type) of an expired order again, if the event is still on sale,
    each type still sold (active, in its sale window) and the seats are still there.

    Conditional UPDATEs: the event's first, then each type's in id order; when one refuses, the
    seats taken are put back (same transaction, locks still held).
    """
    if not await _take_event_seats_late(session, order, sum(counts.values()), now):
        return False
    type_ids = sorted(counts)
    for taken_types, type_id in enumerate(type_ids):
        type_taken = await session.execute(
            update(TicketType)
            .where(
                TicketType.id == type_id,
                TicketType.active.is_(True),
                on_sale(TicketType.sales_start_at, TicketType.sales_end_at, now),
                (TicketType.capacity.is_(None))
                | (TicketType.capacity - TicketType.sold - TicketType.held >= counts[type_id]),
            )
            .values(sold=TicketType.sold + counts[type_id])
            .execution_options(synchronize_session=False)
        )
        if rowcount(type_taken) != 1:
            taken = {taken_id: counts[taken_id] for taken_id in type_ids[:taken_types]}
            await _give_back_late_seats(session, order, taken, sum(counts.values()))
            return False
    return True


async def _give_back_late_seats(
    session: AsyncSession, order: Order, type_counts: dict[int, int], event_seats: int
) -> None:
    """Undo `take_seats_for_late_payment`: the event's seats and the types' (locks still held)."""
    await shift_types(session, type_counts, sold=-1)
    await session.execute(
        update(Event)
        .where(Event.id == order.event_id)
        .values(tickets_sold=Event.tickets_sold - event_seats)
        .execution_options(synchronize_session=False)
    )


async def retake_voucher_use(session: AsyncSession, voucher_id: int, now: dt.datetime) -> bool:
    """The use an expired order gave back, taken again for its late payment; False when the
    voucher is used up or out of its validity meanwhile (the purchase's checks, in one conditional
    UPDATE)."""
    taken = await session.execute(
        update(Voucher)
        .where(
            Voucher.id == voucher_id,
            Voucher.max_uses.is_(None) | (Voucher.uses < Voucher.max_uses),
            on_sale(Voucher.valid_from, Voucher.valid_until, now),
        )
        .values(uses=Voucher.uses + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return rowcount(taken) == 1


async def take_again(session: AsyncSession, order: Order, counts: dict[int, int], now: dt.datetime) -> bool:
    """Everything an expired order gave back for the tickets `counts` - their seats, then its
    voucher use - or nothing."""
    if not await take_seats_for_late_payment(session, order, counts, now):
        return False
    if order.voucher_id is None or await retake_voucher_use(session, order.voucher_id, now):
        return True
    await _give_back_late_seats(session, order, counts, sum(counts.values()))
    return False


async def _take_event_seats_late(session: AsyncSession, order: Order, seats: int, now: dt.datetime) -> bool:
    taken = await session.execute(
        update(Event)
        .where(
            Event.id == order.event_id,
            Event.status == EventStatus.SCHEDULED,
            Event.starts_at > now,
            on_sale(Event.sales_start_at, Event.sales_end_at, now),
            Event.capacity - Event.tickets_sold - Event.tickets_held >= seats,
        )
        .values(tickets_sold=Event.tickets_sold + seats)
        .execution_options(synchronize_session=False)
    )
    return rowcount(taken) == 1


async def reissue_tickets(
    session: AsyncSession, order: Order, signer: TicketSigner, now: dt.datetime
) -> bool:
    """Expired order paid late: new active tickets (new signed codes) for those its expiry
    cancelled, if the sale is still open for them (event and types on sale, seats left) - and a
    use of its voucher, if it redeemed one and the voucher is still valid; False if not.

    The tickets cancelled on expiry stay cancelled: a code once withdrawn never admits anyone.
    Tickets its holder cancelled while the order was pending are not issued again (the caller
    refunds them, as a payment in time does).
    """
    counts = await cancelled_by_expiry(session, order)
    if not counts:  # none to tell apart (the order was changed after its expiry): refused, refunded
        return False
    if not await take_again(session, order, counts, now):
        # Other unpaid holds past their time may be what blocks the seats or the voucher's last
        # use: release them, retry.
        if not await expire_holds(session, order.event_id, now):
            return False
        if not await take_again(session, order, counts, now):
            return False
    reopened = await session.execute(
        update(Order)
        .where(Order.id == order.id, Order.status == OrderStatus.EXPIRED)
        .values(status=OrderStatus.PAID, paid_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if rowcount(reopened) != 1:  # the caller holds the order lock: cannot happen
        msg = f"order {order.id} changed under its lock"
        raise RuntimeError(msg)
    await session.execute(
        insert(Ticket),
        [
            {
                "order_id": order.id,
                "user_id": order.user_id,
                "event_id": order.event_id,
                "ticket_type_id": type_id,
                "code": unsigned_placeholder(),
                "status": TicketStatus.ACTIVE,
                "created_at": now,
                "updated_at": now,
            }
            for type_id in sorted(counts)
            for _ in range(counts[type_id])
        ],
    )
    await sign_new_tickets(session, signer, order.id)
    return True


async def sign_new_tickets(session: AsyncSession, signer: TicketSigner, order_id: int) -> None:
    """Replace the placeholder codes of the order's new tickets with their signed codes."""
    new = await session.execute(
        select(Ticket.id, Ticket.event_id, Ticket.ticket_type_id)
        .where(Ticket.order_id == order_id, Ticket.code.like(PLACEHOLDER_LIKE))
        .order_by(Ticket.id)
    )
    codes = {ticket.id: ticket.code for ticket in sign_new(signer, new)}
    if codes:
        await session.execute(
            update(Ticket)
            .where(Ticket.id.in_(codes))
            .values(code=case(codes, value=Ticket.id))
            .execution_options(synchronize_session=False)
        )


async def recount_types(session: AsyncSession, event_id: int) -> None:
    """Set every type's counters of the event from its tickets (after a bulk change, under the lock)."""
    for status_group, column in ((SOLD_STATUSES, "sold"), ((TicketStatus.PENDING,), "held")):
        count = (
            select(func.count())
            .where(Ticket.ticket_type_id == TicketType.id, Ticket.status.in_(status_group))
            .scalar_subquery()
        )
        await session.execute(
            update(TicketType)
            .where(TicketType.event_id == event_id)
            .values({column: count})
            .execution_options(synchronize_session=False)
        )
