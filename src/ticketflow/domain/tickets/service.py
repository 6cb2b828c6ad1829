"""Ticket use cases: purchase without overselling, history, cancellation, event cancellation.

Inventory rule: seats are taken and given back only by single conditional UPDATE statements on
the event row (`... WHERE capacity - tickets_sold - tickets_held >= :n`). The database evaluates
the condition and the increment as one step under the row lock, so concurrent buyers - in one
process or many, on MySQL/MariaDB or SQLite - can never take more seats than exist, and no
read-then-write window exists (REPEATABLE READ would let a read-then-write oversell).
A CHECK constraint (`tickets_sold + tickets_held <= capacity`) backs the rule in the schema.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ticketflow.db.base import utc_now
from ticketflow.db.models.checkins import CheckIn
from ticketflow.db.models.events import Event, EventStatus
from ticketflow.db.models.orders import Order, OrderStatus
from ticketflow.db.models.tickets import Ticket, TicketStatus
from ticketflow.db.models.users import Role, User
from ticketflow.domain.notifications.notifier import Notifier
from ticketflow.domain.payments.hooks import Payments, PaymentsUnavailable
from ticketflow.domain.tickets.codes import new_ticket_code
from ticketflow.lib.errors import ConflictError, EventNotFound, NotFoundError, RuleViolation

CANCELLABLE_STATUSES = (TicketStatus.PENDING, TicketStatus.ACTIVE)


class SoldOut(ConflictError):
    detail = "not enough tickets left"


class SalesClosed(ConflictError):
    detail = "ticket sales are closed for this event"


class IdempotencyKeyReused(RuleViolation):
    detail = "this Idempotency-Key was used for a different purchase"


class TicketNotFound(NotFoundError):
    detail = "ticket not found"


class TicketNotCancellable(ConflictError):
    detail = "this ticket cannot be cancelled"


@dataclass(slots=True)
class PurchaseResult:
    order: Order
    tickets: list[Ticket]
    replayed: bool = False


def purchase_fingerprint(event_id: int, quantity: int) -> str:
    return hashlib.sha256(f"{event_id}:{quantity}".encode()).hexdigest()


def check_sales_open(event: Event, quantity: int, now: dt.datetime) -> None:
    if event.status == EventStatus.CANCELLED:
        raise SalesClosed("the event is cancelled")
    if event.starts_at <= now:
        raise SalesClosed("the event has already started")
    if event.sales_start_at is not None and now < event.sales_start_at:
        raise SalesClosed(
            "ticket sales have not started yet", sales_start_at=event.sales_start_at.isoformat()
        )
    if event.sales_end_at is not None and now >= event.sales_end_at:
        raise SalesClosed("ticket sales have ended")
    if quantity > event.max_per_order:
        raise RuleViolation(
            f"quantity must be between 1 and {event.max_per_order}",
            max_per_order=event.max_per_order,
        )


class TicketService:
    """Use cases of tickets. Each public method is one transaction."""

    def __init__(
        self,
        session: AsyncSession,
        notifier: Notifier,
        payments: Payments,
        reservation_ttl_seconds: int,
    ) -> None:
        self.session = session
        self.notifier = notifier
        self.payments = payments
        self.reservation_ttl = dt.timedelta(seconds=reservation_ttl_seconds)

    # -- purchase ---------------------------------------------------------------------------

    async def purchase(
        self, *, user: User, event_id: int, quantity: int, idempotency_key: str | None
    ) -> PurchaseResult:
        fingerprint = purchase_fingerprint(event_id, quantity)
        if idempotency_key is not None:
            previous = await self._replay(user.id, idempotency_key, fingerprint)
            if previous is not None:
                return previous
        try:
            return await self._purchase(user, event_id, quantity, idempotency_key, fingerprint)
        except IntegrityError:
            await self.session.rollback()
            if idempotency_key is None:
                raise
            # A concurrent request with the same key committed first: answer with its result.
            previous = await self._replay(user.id, idempotency_key, fingerprint)
            if previous is None:
                raise
            return previous

    async def _replay(self, user_id: int, key: str, fingerprint: str) -> PurchaseResult | None:
        order = await self.session.scalar(
            select(Order).where(Order.user_id == user_id, Order.idempotency_key == key)
        )
        if order is None:
            return None
        if order.request_fingerprint != fingerprint:
            raise IdempotencyKeyReused
        tickets = await self.session.scalars(
            select(Ticket).where(Ticket.order_id == order.id).order_by(Ticket.id)
        )
        result = PurchaseResult(order=order, tickets=list(tickets), replayed=True)
        await self.session.commit()
        return result

    async def _purchase(
        self,
        user: User,
        event_id: int,
        quantity: int,
        idempotency_key: str | None,
        fingerprint: str,
    ) -> PurchaseResult:
        now = utc_now()
        event = await self.session.get(Event, event_id)
        if event is None:
            raise EventNotFound
        check_sales_open(event, quantity, now)
        priced = event.price_cents > 0
        if priced and not self.payments.accepts_priced_orders():
            raise PaymentsUnavailable
        if not await self._take_seats(event_id, quantity, held=priced, now=now):
            # Unpaid holds past their time may be what blocks the sale: release them, try again.
            released = await self.payments.expire_holds(self.session, event_id)
            if not released or not await self._take_seats(event_id, quantity, held=priced, now=now):
                await self.session.rollback()
                await self._raise_not_enough(event_id, quantity)
        order = Order(
            user_id=user.id,
            event_id=event_id,
            quantity=quantity,
            amount_cents=event.price_cents * quantity,
            currency=event.currency,
            status=OrderStatus.PENDING if priced else OrderStatus.PAID,
            paid_at=None if priced else now,
            expires_at=now + self.reservation_ttl if priced else None,
            payment_provider=self.payments.provider_name if priced else None,
            idempotency_key=idempotency_key,
            request_fingerprint=fingerprint,
        )
        self.session.add(order)
        await self.session.flush()
        ticket_status = TicketStatus.PENDING if priced else TicketStatus.ACTIVE
        rows = [
            {
                "order_id": order.id,
                "user_id": user.id,
                "event_id": event_id,
                "code": new_ticket_code(),
                "status": ticket_status,
                "created_at": now,
                "updated_at": now,
            }
            for _ in range(quantity)
        ]
        await self.session.execute(insert(Ticket), rows)
        if not priced:
            await self.notifier.tickets_issued(self.session, order.id)
        tickets = list(
            await self.session.scalars(select(Ticket).where(Ticket.order_id == order.id).order_by(Ticket.id))
        )
        await self.session.commit()
        return PurchaseResult(order=order, tickets=tickets)

    async def _take_seats(self, event_id: int, quantity: int, *, held: bool, now: dt.datetime) -> bool:
        """The race-free inventory step: one conditional UPDATE; True when the seats were taken."""
        counter = Event.tickets_held if held else Event.tickets_sold
        taken = await self.session.execute(
            update(Event)
            .where(
                Event.id == event_id,
                Event.status == EventStatus.SCHEDULED,
                Event.starts_at > now,
                Event.capacity - Event.tickets_sold - Event.tickets_held >= quantity,
            )
            .values({counter: counter + quantity})
            .execution_options(synchronize_session=False)
        )
        return bool(taken.rowcount == 1)  # type: ignore[attr-defined]

    async def _raise_not_enough(self, event_id: int, quantity: int) -> None:
        event = await self.session.get(Event, event_id, populate_existing=True)
        if event is None:
            raise EventNotFound
        check_sales_open(event, quantity, utc_now())
        raise SoldOut(
            "sold out" if event.tickets_available == 0 else f"only {event.tickets_available} tickets left",
            tickets_available=event.tickets_available,
        )

    # -- reading ----------------------------------------------------------------------------

    async def get_visible(self, ticket_id: int, viewer: User) -> tuple[Ticket, Event]:
        """The ticket if `viewer` may see it: owner, admin, or staff who scanned it. Else 404."""
        row = (
            await self.session.execute(
                select(Ticket, Event).join(Event, Event.id == Ticket.event_id).where(Ticket.id == ticket_id)
            )
        ).first()
        if row is None:
            raise TicketNotFound
        ticket, event = row.tuple()
        if viewer.role == Role.ADMIN or ticket.user_id == viewer.id:
            return ticket, event
        if viewer.role == Role.STAFF:
            scanned = await self.session.scalar(
                select(func.count())
                .select_from(CheckIn)
                .where(CheckIn.ticket_id == ticket_id, CheckIn.scanned_by_id == viewer.id)
            )
            if scanned:
                return ticket, event
        raise TicketNotFound

    async def list_tickets(
        self, *, viewer: User, event_id: int | None, limit: int, offset: int
    ) -> tuple[Sequence[tuple[Ticket, Event]], int]:
        """Own tickets newest first; an admin passing `event_id` gets all of that event's."""
        conditions = []
        if event_id is not None and viewer.role == Role.ADMIN:
            conditions.append(Ticket.event_id == event_id)
        else:
            conditions.append(Ticket.user_id == viewer.id)
            if event_id is not None:
                conditions.append(Ticket.event_id == event_id)
        total = await self.session.scalar(select(func.count()).select_from(Ticket).where(*conditions))
        rows = await self.session.execute(
            select(Ticket, Event)
            .join(Event, Event.id == Ticket.event_id)
            .where(*conditions)
            .order_by(Ticket.created_at.desc(), Ticket.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return [row.tuple() for row in rows], int(total or 0)

    # -- cancellation -----------------------------------------------------------------------

    async def cancel_ticket(self, ticket_id: int, actor: User) -> tuple[Ticket, Event]:
        """Cancel one ticket and put its seat back on sale."""
        ticket, event = await self.get_visible(ticket_id, actor)
        if actor.role == Role.STAFF and ticket.user_id != actor.id:
            raise TicketNotFound
        if ticket.status == TicketStatus.USED:
            raise TicketNotCancellable("a used ticket cannot be cancelled")
        if ticket.status == TicketStatus.CANCELLED:
            raise TicketNotCancellable("the ticket is already cancelled")
        now = utc_now()
        if event.starts_at <= now and actor.role != Role.ADMIN:
            raise TicketNotCancellable("the event has already started")
        previous_status = ticket.status
        changed = await self.session.execute(
            update(Ticket)
            .where(Ticket.id == ticket_id, Ticket.status == previous_status)
            .values(status=TicketStatus.CANCELLED, cancelled_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if changed.rowcount != 1:  # type: ignore[attr-defined]
            await self.session.rollback()
            raise TicketNotCancellable("the ticket changed meanwhile; reload it")
        counter = Event.tickets_held if previous_status == TicketStatus.PENDING else Event.tickets_sold
        await self.session.execute(
            update(Event)
            .where(Event.id == event.id)
            .values({counter: counter - 1})
            .execution_options(synchronize_session=False)
        )
        order = await self.session.get(Order, ticket.order_id)
        if order is not None and order.status == OrderStatus.PAID and order.amount_cents > 0:
            await self.payments.refund_ticket(self.session, order, ticket)
        await self._settle_order(ticket.order_id, now)
        await self.notifier.ticket_cancelled(self.session, ticket_id)
        await self.session.commit()
        await self.session.refresh(ticket)
        await self.session.refresh(event)
        return ticket, event

    async def _settle_order(self, order_id: int, now: dt.datetime) -> None:
        """An order whose tickets are all cancelled is cancelled too."""
        live = await self.session.scalar(
            select(func.count())
            .select_from(Ticket)
            .where(Ticket.order_id == order_id, Ticket.status != TicketStatus.CANCELLED)
        )
        if not live:
            await self.session.execute(
                update(Order)
                .where(Order.id == order_id, Order.status.in_([OrderStatus.PENDING, OrderStatus.PAID]))
                .values(status=OrderStatus.CANCELLED, updated_at=now)
                .execution_options(synchronize_session=False)
            )

    async def cancel_event(self, event_id: int) -> Event:
        """Cancel an event that has orders: every live ticket cancelled, orders closed, holders told.

        Used tickets stay `used`: they record who was admitted. Nothing is deleted.
        """
        event = await self.session.get(Event, event_id)
        if event is None:
            raise EventNotFound
        now = utc_now()
        await self.session.execute(
            update(Event)
            .where(Event.id == event_id)
            .values(status=EventStatus.CANCELLED, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        await self.session.execute(
            update(Ticket)
            .where(Ticket.event_id == event_id, Ticket.status.in_(CANCELLABLE_STATUSES))
            .values(status=TicketStatus.CANCELLED, cancelled_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        used = await self.session.scalar(
            select(func.count())
            .select_from(Ticket)
            .where(Ticket.event_id == event_id, Ticket.status == TicketStatus.USED)
        )
        await self.session.execute(
            update(Event)
            .where(Event.id == event_id)
            .values(tickets_sold=int(used or 0), tickets_held=0)
            .execution_options(synchronize_session=False)
        )
        await self.session.execute(
            update(Order)
            .where(
                Order.event_id == event_id,
                Order.status.in_([OrderStatus.PENDING, OrderStatus.PAID]),
            )
            .values(status=OrderStatus.CANCELLED, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        await self.notifier.event_cancelled(self.session, event_id)
        await self.session.commit()
        await self.session.refresh(event)
        return event
