"""Order use cases: the buyer's orders, one order with its lines, cancelling a whole order.

Cancelling takes the locks in the order every seat change takes them (event row, then order,
tickets, types): a pending order is closed like an expired hold (`release_hold`), a paid one has
each live ticket cancelled and refunded the way a single ticket is (`TicketService`).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from advanced_alchemy.filters import LimitOffset
from advanced_alchemy.service import OffsetPagination
from sqlalchemy import UnaryExpression, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ticketflow.db.base import utc_now
from ticketflow.db.models.events import Event
from ticketflow.db.models.orders import Order, OrderStatus
from ticketflow.db.models.ticket_types import OrderLine
from ticketflow.db.models.tickets import Ticket, TicketStatus
from ticketflow.db.models.users import Role, User
from ticketflow.domain.notifications.notifier import Notifier
from ticketflow.domain.payments.holds import (
    give_back_voucher,
    lock_event,
    release_hold,
    rowcount,
    shift_types,
)
from ticketflow.domain.payments.hooks import Payments
from ticketflow.domain.tickets.service import OrderRepository
from ticketflow.lib.errors import ConflictError, NotFoundError
from ticketflow.lib.i18n import N_
from ticketflow.lib.repository import RepositoryService, again_if_deadlocked_in

OPEN_STATUSES = (OrderStatus.PENDING, OrderStatus.PAID)
ORDER_IS = {
    OrderStatus.PENDING: N_("the order is pending"),
    OrderStatus.PAID: N_("the order is paid"),
    OrderStatus.CANCELLED: N_("the order is cancelled"),
    OrderStatus.EXPIRED: N_("the order is expired"),
    OrderStatus.REFUNDED: N_("the order is refunded"),
}
"""Why an order cannot be cancelled, by its state (one whole sentence each, for the translations)."""


class OrderNotFound(NotFoundError):
    detail = N_("order not found")


class OrderNotCancellable(ConflictError):
    detail = N_("this order cannot be cancelled")


@dataclass(slots=True)
class OrderView:
    order: Order
    lines: list[OrderLine]


async def lines_of(session: AsyncSession, order_ids: Sequence[int]) -> dict[int, list[OrderLine]]:
    found: dict[int, list[OrderLine]] = {order_id: [] for order_id in order_ids}
    if order_ids:
        query = select(OrderLine).where(OrderLine.order_id.in_(order_ids)).order_by(OrderLine.id)
        for line in await session.scalars(query):
            found[line.order_id].append(line)
    return found


class OrderService(RepositoryService[Order, OrderRepository]):
    """Use cases of orders. Each public method is one transaction."""

    repository_type = OrderRepository

    def __init__(self, session: AsyncSession, notifier: Notifier, payments: Payments, **options: Any) -> None:
        super().__init__(session, **options)
        self.notifier = notifier
        self.payments = payments

    async def list_orders(
        self,
        *,
        viewer: User,
        event_id: int | None,
        status: OrderStatus | None,
        user_id: int | None,
        limit_offset: LimitOffset,
    ) -> OffsetPagination[OrderView]:
        """Own orders newest first; admins see everyone's and may filter by user."""
        conditions: list[Any] = []
        if viewer.role != Role.ADMIN:
            conditions.append(Order.user_id == viewer.id)
        elif user_id is not None:
            conditions.append(Order.user_id == user_id)
        if event_id is not None:
            conditions.append(Order.event_id == event_id)
        if status is not None:
            conditions.append(Order.status == status)
        order: list[UnaryExpression[Any]] = [Order.created_at.desc(), Order.id.desc()]
        found = await self.page(*conditions, limit_offset=limit_offset, order_by=order)
        lines = await lines_of(self.session, [o.id for o in found.items])
        views = [OrderView(o, lines[o.id]) for o in found.items]
        return OffsetPagination(items=views, total=found.total, limit=found.limit, offset=found.offset)

    async def get_order(self, order_id: int, viewer: User) -> OrderView:
        """The order if `viewer` placed it or is an admin; else 404."""
        order = await self.get_one_or_none(Order.id == order_id)
        if order is None or (viewer.role != Role.ADMIN and order.user_id != viewer.id):
            raise OrderNotFound
        return OrderView(order, (await lines_of(self.session, [order_id]))[order_id])

    async def cancel_order(self, order_id: int, actor: User) -> OrderView:
        """Every live ticket of the order cancelled, its seats back, refunded when paid.

        The buyer may cancel before the event starts; an admin at any time. Used tickets stay
        used (they record who came). Run again if a deadlock's victim (see `cancel_ticket`).
        """
        return await again_if_deadlocked_in(self.session, lambda: self._cancel_order(order_id, actor))

    async def _cancel_order(self, order_id: int, actor: User) -> OrderView:
        order = (await self.get_order(order_id, actor)).order
        event = await self.session.get(Event, order.event_id)
        now = utc_now()
        if event is None or order.status not in OPEN_STATUSES:
            raise OrderNotCancellable(ORDER_IS[OrderStatus(order.status)])
        if event.starts_at <= now and actor.role != Role.ADMIN:
            raise OrderNotCancellable(N_("the event has already started"))
        await lock_event(self.session, event.id, now)
        # Read again, locked: a request that cancelled the order, or a transfer that gave one of
        # its tickets away, while this one waited for the event's lock is seen (MariaDB's
        # snapshot, taken before the wait, would not show it).
        await self.session.refresh(order, with_for_update=True)
        if order.status not in OPEN_STATUSES:
            raise OrderNotCancellable(ORDER_IS[OrderStatus(order.status)])
        if actor.role != Role.ADMIN and await self._given_away(order):
            raise OrderNotCancellable(
                N_("a ticket of this order now belongs to someone else: cancel your own tickets one by one")
            )
        if order.status == OrderStatus.PENDING:
            await release_hold(
                self.session,
                order.id,
                event.id,
                OrderStatus.CANCELLED,
                now,
                only_if_expired=False,
                event_locked=True,
            )
        else:
            await self._cancel_paid(order, event, now)
        await self.session.commit()
        await self.session.refresh(order)
        return await self.get_order(order_id, actor)

    async def _given_away(self, order: Order) -> bool:
        """Whether a live ticket of the order was transferred to another user: its buyer may not
        take it back by cancelling the order (the new holder may cancel it)."""
        given = await self.session.scalar(
            select(func.count())
            .select_from(Ticket)
            .where(
                Ticket.order_id == order.id,
                Ticket.user_id != order.user_id,
                Ticket.status.in_((TicketStatus.PENDING, TicketStatus.ACTIVE)),
            )
            .with_for_update()
        )
        return bool(given)

    async def _cancel_paid(self, order: Order, event: Event, now: dt.datetime) -> None:
        unused = (Ticket.order_id == order.id, Ticket.status == TicketStatus.ACTIVE, Ticket.used_at.is_(None))
        live = list(await self.session.scalars(select(Ticket).where(*unused).with_for_update()))
        if not live:
            raise OrderNotCancellable(N_("the order has no ticket left to cancel"))
        by_type = dict(Counter(ticket.ticket_type_id for ticket in live))  # the rows locked just above
        cancelled = await self.session.execute(
            update(Ticket)
            .where(*unused)
            .values(status=TicketStatus.CANCELLED, cancelled_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        count = rowcount(cancelled)
        await self.session.execute(
            update(Event)
            .where(Event.id == event.id)
            .values(tickets_sold=Event.tickets_sold - count)
            .execution_options(synchronize_session=False)
        )
        await shift_types(self.session, by_type, sold=-1)
        for ticket in live:
            if order.amount_cents > 0:
                await self.payments.refund_ticket(self.session, order, ticket)
            await self.notifier.ticket_cancelled(self.session, ticket.id)
        remaining = await self.session.scalar(
            select(func.count())
            .select_from(Ticket)
            .where(Ticket.order_id == order.id, Ticket.status != TicketStatus.CANCELLED)
            .with_for_update()
        )
        if not remaining:
            await give_back_voucher(self.session, order.id)
            order.status = OrderStatus.REFUNDED if order.amount_cents > 0 else OrderStatus.CANCELLED
            order.updated_at = now
