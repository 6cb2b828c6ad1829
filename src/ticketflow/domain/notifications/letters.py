"""What a queued message says, read from the database when its turn comes.

Messages refer to orders, tickets and events instead of copying them, so a ticket e-mail sent
after the event moved shows the new time, and one whose tickets were all cancelled meanwhile is
not sent at all. The result is a plain `Letter`: composing it needs no database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any

import msgspec
from sqlalchemy import distinct, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ticketflow.db.models.events import Event
from ticketflow.db.models.orders import Order, OrderStatus
from ticketflow.db.models.outbox import MessageKind, OutboxMessage
from ticketflow.db.models.ticket_types import TicketType
from ticketflow.db.models.tickets import Ticket, TicketStatus
from ticketflow.db.models.users import User
from ticketflow.domain.notifications.outbox import LIVE_TICKET_STATUSES
from ticketflow.lib.i18n import DEFAULT_LOCALE


class NothingToSend(Exception):
    """The message has become pointless (its subject is gone); it is marked `skipped`."""


@dataclass(frozen=True, slots=True)
class EventFacts:
    id: int
    title: str
    venue: str
    starts_at: dt.datetime
    ends_at: dt.datetime | None
    timezone: str
    cancelled: bool
    sequence: int
    """Calendar SEQUENCE: grows with every change, so a newer invitation replaces an older one."""

    @classmethod
    def of(cls, event: Event, sequence: int) -> EventFacts:
        return cls(
            id=event.id,
            title=event.title,
            venue=event.venue,
            starts_at=event.starts_at,
            ends_at=event.ends_at,
            timezone=event.timezone,
            cancelled=event.is_cancelled,
            sequence=sequence,
        )


@dataclass(frozen=True, slots=True)
class TicketFacts:
    id: int
    code: str
    attendee_name: str | None = None
    """The attendee named for the ticket; None: its holder (the recipient)."""
    type_name: str | None = None
    """The name of the ticket's type, printed on its PDF page."""


@dataclass(frozen=True, slots=True)
class Letter:
    kind: MessageKind
    message_id: str
    recipient: str
    recipient_name: str
    event: EventFacts
    tickets: tuple[TicketFacts, ...] = ()
    order_id: int | None = None
    amount_cents: int = 0
    currency: str = "EUR"
    refund_due: bool = False
    resend: bool = False
    reissued: bool = False
    """Of a ticket e-mail: the tickets got new codes, the ones sent before admit no one."""
    changed: tuple[str, ...] = ()
    previous: dict[str, Any] = field(default_factory=dict)
    locale: str = "en"
    """The recipient's language, read when the message is composed (a later choice applies)."""
    other_party: str = ""
    """Of a transfer: the name of the other holder (the receiver, or the giver)."""


async def load_letter(session: AsyncSession, message: OutboxMessage) -> Letter:
    """The `Letter` for `message`; `NothingToSend` when it no longer makes sense."""
    event = await session.get(Event, message.event_id) if message.event_id is not None else None
    if event is None:
        raise NothingToSend("the event no longer exists")
    payload: dict[str, Any] = msgspec.json.decode(message.payload or "{}")
    base = Letter(
        kind=MessageKind(message.kind),
        message_id=message.message_id,
        recipient=message.recipient,
        recipient_name=message.recipient_name,
        event=EventFacts.of(event, await calendar_sequence(session, event.id)),
        locale=await recipient_locale(session, message.user_id),
    )
    match message.kind:
        case MessageKind.TICKETS:
            order = await _order(session, message.order_id)
            conditions = [
                Ticket.order_id == order.id,
                Ticket.status == TicketStatus.ACTIVE,
                Ticket.user_id == message.user_id,  # not those given away since (their new codes)
            ]
            reissued = [int(ticket_id) for ticket_id in payload.get("reissued", ())]
            if reissued:  # only the tickets that got new codes
                conditions.append(Ticket.id.in_(reissued))
            tickets = await _tickets(session, *conditions)
            if not tickets:
                raise NothingToSend("the order has no active tickets")
            return replace(
                base,
                tickets=tickets,
                order_id=order.id,
                amount_cents=order.amount_cents,
                currency=order.currency,
                resend=bool(payload.get("resend")),
                reissued=bool(reissued),
            )
        case MessageKind.TICKET_CANCELLED:
            order = await _order(session, message.order_id)
            ticket = await session.get(Ticket, message.ticket_id) if message.ticket_id else None
            if ticket is None:
                raise NothingToSend("the ticket no longer exists")
            return replace(
                base,
                tickets=await _tickets(session, Ticket.id == ticket.id),
                order_id=order.id,
                # the money goes back to whoever paid: a holder the ticket was given to is not told
                # of a refund that is not theirs
                refund_due=order.paid_at is not None
                and order.amount_cents > 0
                and order.user_id == message.user_id,
            )
        case MessageKind.TICKET_TRANSFERRED | MessageKind.TICKET_RECEIVED:
            received = message.kind == MessageKind.TICKET_RECEIVED
            conditions = [Ticket.id == message.ticket_id]
            if received:  # the ticket as it is now, while the receiver still holds it
                conditions += [Ticket.user_id == message.user_id, Ticket.status == TicketStatus.ACTIVE]
            tickets = await _tickets(session, *conditions)
            if not tickets:
                raise NothingToSend("the ticket was passed on, used or cancelled since")
            if not received:  # the giver learns the number, never the new code
                tickets = tuple(replace(ticket, code="") for ticket in tickets)
            other = payload.get("from" if received else "to", "")
            return replace(base, tickets=tickets, order_id=message.order_id, other_party=str(other))
        case MessageKind.EVENT_CANCELLED:
            # the tickets the cancellation cancelled (or found used); a message queued before
            # they were named falls back to every ticket of the holder
            named = Ticket.id.in_([int(ticket_id) for ticket_id in payload.get("tickets", ())])
            lost = named if "tickets" in payload else Ticket.event_id == event.id
            tickets = await _tickets(session, lost, Ticket.user_id == message.user_id)
            # a refund is promised for the recipient's own paid orders of those tickets that the
            # cancellation refunded; money refunded earlier, or a giver's, is not theirs to expect
            refunded = await session.scalar(
                select(
                    exists().where(
                        Order.id.in_(select(Ticket.order_id).where(lost, Ticket.user_id == message.user_id)),
                        Order.user_id == message.user_id,
                        Order.status == OrderStatus.REFUNDED,
                        Order.paid_at.is_not(None),
                        Order.amount_cents > 0,
                    )
                )
            )
            return replace(base, tickets=tickets, refund_due=bool(refunded))
        case MessageKind.EVENT_CHANGED:
            if event.is_cancelled:
                raise NothingToSend("the event was cancelled since")
            tickets = await _tickets(
                session,
                Ticket.event_id == event.id,
                Ticket.user_id == message.user_id,
                Ticket.status.in_(LIVE_TICKET_STATUSES),
            )
            if not tickets:
                raise NothingToSend("the recipient holds no live ticket any more")
            return replace(
                base,
                tickets=tickets,
                changed=tuple(payload.get("changed", ())),
                previous=dict(payload.get("previous", {})),
            )
    raise NothingToSend(f"unknown message kind {message.kind!r}")


async def recipient_locale(session: AsyncSession, user_id: int | None) -> str:
    """The language the recipient chose; English when the account is gone."""
    locale = await session.scalar(select(User.locale).where(User.id == user_id)) if user_id else None
    return locale or DEFAULT_LOCALE


async def calendar_sequence(session: AsyncSession, event_id: int) -> int:
    """How many changes and cancellations of the event were announced so far.

    Each announcement is one batch of outbox rows written by one hook call, all with the same
    `created_at`; its calendar files carry the count, so the newest one always wins.
    """
    announced = await session.scalar(
        select(func.count(distinct(OutboxMessage.created_at))).where(
            OutboxMessage.event_id == event_id,
            OutboxMessage.kind.in_([MessageKind.EVENT_CHANGED, MessageKind.EVENT_CANCELLED]),
        )
    )
    return int(announced or 0)


async def _order(session: AsyncSession, order_id: int | None) -> Order:
    order = await session.get(Order, order_id) if order_id is not None else None
    if order is None:
        raise NothingToSend("the order no longer exists")
    return order


async def _tickets(session: AsyncSession, *conditions: Any) -> tuple[TicketFacts, ...]:
    rows = await session.execute(
        select(Ticket.id, Ticket.code, Ticket.attendee_name, TicketType.name)
        .outerjoin(TicketType, TicketType.id == Ticket.ticket_type_id)
        .where(*conditions)
        .order_by(Ticket.id)
    )
    return tuple(TicketFacts(*row) for row in rows)
