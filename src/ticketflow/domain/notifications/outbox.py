"""Queueing messages: the `Notifier` hooks write outbox rows inside the caller's transaction.

Nothing here commits, talks to a mail server or renders anything: a hook only records who must
hear what, so the purchase (or cancellation, or change) and its messages commit or roll back
together. The worker (`delivery.py`) renders and sends them later.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import insert, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.base import NEVER_SET, NO_VALUE

from ticketflow.db.base import utc_now
from ticketflow.db.models.events import Event
from ticketflow.db.models.orders import Order
from ticketflow.db.models.outbox import MESSAGE_ID_MAX, MessageKind, OutboxMessage, OutboxStatus
from ticketflow.db.models.tickets import Ticket, TicketStatus
from ticketflow.db.models.users import User
from ticketflow.domain.notifications.identity import MailIdentity
from ticketflow.domain.notifications.notifier import Recipient
from ticketflow.domain.notifications.statements import OutboxStatements

LIVE_TICKET_STATUSES = (TicketStatus.PENDING, TicketStatus.ACTIVE)


class OutboxNotifier:
    """The `Notifier` of the application: every hook queues e-mail in the caller's transaction."""

    def __init__(self, identity: MailIdentity) -> None:
        self.identity = identity

    async def tickets_issued(self, session: AsyncSession, order_id: int) -> None:
        holder = (
            await session.execute(
                select(User.id, User.email, User.name, Order.event_id)
                .join(Order, Order.user_id == User.id)
                .where(Order.id == order_id)
            )
        ).one()
        await self._queue(
            session,
            MessageKind.TICKETS,
            [(holder.id, holder.email, holder.name)],
            event_id=holder.event_id,
            order_id=order_id,
        )

    async def tickets_issued_to(
        self, outbox: OutboxStatements, holder: Recipient, *, event_id: int, order_id: int
    ) -> None:
        await outbox.queue(self._rows(MessageKind.TICKETS, [holder], event_id=event_id, order_id=order_id))

    async def tickets_resent(self, session: AsyncSession, ticket: Ticket) -> OutboxMessage:
        """The ticket e-mail of `ticket`'s order, once more (asked for by its holder or an admin)."""
        holder = await session.get_one(User, ticket.user_id)
        (message_id,) = await self._queue(
            session,
            MessageKind.TICKETS,
            [(holder.id, holder.email, holder.name)],
            event_id=ticket.event_id,
            order_id=ticket.order_id,
            ticket_id=ticket.id,
            payload={"resend": True},
        )
        queued = await session.scalar(select(OutboxMessage).where(OutboxMessage.message_id == message_id))
        assert queued is not None  # noqa: S101 - inserted just above, in this transaction
        return queued

    async def ticket_cancelled(self, session: AsyncSession, ticket_id: int) -> None:
        holder = (
            await session.execute(
                select(User.id, User.email, User.name, Ticket.event_id, Ticket.order_id)
                .join(Ticket, Ticket.user_id == User.id)
                .where(Ticket.id == ticket_id)
            )
        ).one()
        await self._queue(
            session,
            MessageKind.TICKET_CANCELLED,
            [(holder.id, holder.email, holder.name)],
            event_id=holder.event_id,
            order_id=holder.order_id,
            ticket_id=ticket_id,
        )

    async def ticket_transferred(
        self, session: AsyncSession, ticket_id: int, giver: Recipient, receiver: Recipient
    ) -> None:
        ticket = await session.get_one(Ticket, ticket_id)
        about: dict[str, Any] = {
            "event_id": ticket.event_id,
            "order_id": ticket.order_id,
            "ticket_id": ticket_id,
        }
        await self._queue(
            session, MessageKind.TICKET_TRANSFERRED, [giver], payload={"to": receiver[2]}, **about
        )
        await self._queue(
            session, MessageKind.TICKET_RECEIVED, [receiver], payload={"from": giver[2]}, **about
        )

    async def codes_reissued(self, session: AsyncSession, ticket_ids: Sequence[int]) -> None:
        """One ticket e-mail per order and holder, limited to the reissued tickets
        (`payload.reissued`), which `letters` reads with their codes when it is sent."""
        rows = await session.execute(
            select(Ticket.id, Ticket.order_id, Ticket.event_id, User.id, User.email, User.name)
            .join(User, User.id == Ticket.user_id)
            .where(Ticket.id.in_(ticket_ids), Ticket.status == TicketStatus.ACTIVE)
            .order_by(Ticket.id)
        )
        letters: dict[tuple[int, int], tuple[int, Recipient, list[int]]] = {}
        for ticket_id, order_id, event_id, user_id, email, name in rows:
            holder = (user_id, email, name)
            letters.setdefault((order_id, user_id), (event_id, holder, []))[2].append(ticket_id)
        messages = [
            row
            for (order_id, _), (event_id, holder, reissued) in letters.items()
            for row in self._rows(
                MessageKind.TICKETS,
                [holder],
                event_id=event_id,
                order_id=order_id,
                ticket_id=reissued[0] if len(reissued) == 1 else None,
                payload={"reissued": reissued},
            )
        ]
        if messages:
            await session.execute(insert(OutboxMessage), messages)

    async def event_cancelled(self, session: AsyncSession, event_id: int, cancelled_at: dt.datetime) -> None:
        """One message to every holder of a ticket the cancellation cancelled (its `cancelled_at`)
        or that was used, naming those tickets: a holder whose reservation expired, or who
        cancelled (and was refunded) before, has nothing left to lose and is not told."""
        rows = await session.execute(
            select(Ticket.id, User.id.label("user_id"), User.email, User.name)
            .join(User, User.id == Ticket.user_id)
            .where(
                Ticket.event_id == event_id,
                (Ticket.status == TicketStatus.USED)
                | ((Ticket.status == TicketStatus.CANCELLED) & (Ticket.cancelled_at == cancelled_at)),
            )
            .order_by(User.id, Ticket.id)
        )
        held: dict[Recipient, list[int]] = {}
        for ticket_id, user_id, email, name in rows:
            held.setdefault((user_id, email, name), []).append(ticket_id)
        # one batch, one `created_at`: the calendar SEQUENCE counts announcements by it
        messages = self._rows(MessageKind.EVENT_CANCELLED, held, event_id=event_id)
        for message, ticket_ids in zip(messages, held.values(), strict=True):
            message["payload"] = msgspec.json.encode({"tickets": ticket_ids}).decode()
        if messages:
            await session.execute(insert(OutboxMessage), messages)

    async def event_changed(self, session: AsyncSession, event_id: int, changed: frozenset[str]) -> None:
        """One message to every holder of a live ticket, with the previous time and venue."""
        previous = previous_values(await session.get(Event, event_id), changed)
        holders = await self._holders(session, event_id, statuses=LIVE_TICKET_STATUSES)
        await self._queue(
            session,
            MessageKind.EVENT_CHANGED,
            holders,
            event_id=event_id,
            payload={"changed": sorted(changed), "previous": previous},
        )

    @staticmethod
    async def _holders(
        session: AsyncSession, event_id: int, statuses: Sequence[str] | None
    ) -> list[tuple[int, str, str]]:
        query = select(User.id, User.email, User.name).join(Ticket, Ticket.user_id == User.id)
        query = query.where(Ticket.event_id == event_id)
        if statuses is not None:
            query = query.where(Ticket.status.in_(statuses))
        rows = await session.execute(query.distinct().order_by(User.id))
        return [(row.id, row.email, row.name) for row in rows]

    async def _queue(
        self, session: AsyncSession, kind: MessageKind, recipients: Iterable[Recipient], **about: Any
    ) -> list[str]:
        """Insert one pending message per recipient (`about`: see `_rows`); returns their
        `Message-ID`s."""
        rows = self._rows(kind, recipients, **about)
        if rows:
            await session.execute(insert(OutboxMessage), rows)
        return [row["message_id"] for row in rows]

    def _rows(
        self,
        kind: MessageKind,
        recipients: Iterable[Recipient],
        *,
        event_id: int | None = None,
        order_id: int | None = None,
        ticket_id: int | None = None,
        payload: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """One pending message per recipient, as column values."""
        now = utc_now()
        encoded = msgspec.json.encode(payload or {}).decode()
        return [
            {
                "kind": kind.value,
                "status": OutboxStatus.PENDING.value,
                "message_id": self._new_message_id(),
                "recipient": email,
                "recipient_name": name,
                "user_id": user_id,
                "event_id": event_id,
                "order_id": order_id,
                "ticket_id": ticket_id,
                "payload": encoded,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
                "updated_at": now,
            }
            for user_id, email, name in recipients
        ]

    def _new_message_id(self) -> str:
        return f"<{uuid.uuid4().hex}@{self.identity.domain}>"[:MESSAGE_ID_MAX]


REMEMBERED_FIELDS = ("starts_at", "ends_at", "venue")
"""Event fields whose value before a change the change message shows."""
PREVIOUS_VALUES_KEY = "ticketflow.previous_values"


def remember_previous_value(target: Event, value: Any, previous: Any, initiator: Any) -> None:
    """Attribute listener: keep the first value a remembered field had before it was set.

    The events service may flush before it calls `event_changed` (which empties the unit of
    work's history), so the old values are kept on the instance's state until the hook reads them.
    """
    if previous is NO_VALUE or previous is NEVER_SET:
        return
    inspect(target).info.setdefault(PREVIOUS_VALUES_KEY, {}).setdefault(initiator.key, previous)


def remember_previous_values() -> None:
    """Install the listener on the remembered fields of `Event` (once, however often called)."""
    for name in REMEMBERED_FIELDS:
        attribute = getattr(Event, name)
        if not sqlalchemy_event.contains(attribute, "set", remember_previous_value):
            sqlalchemy_event.listen(attribute, "set", remember_previous_value)


def previous_values(event: Event | None, changed: frozenset[str]) -> dict[str, Any]:
    """What the `changed` fields were before this change (JSON-ready), as far as known."""
    if event is None:
        return {}
    remembered: dict[str, Any] = inspect(event).info.pop(PREVIOUS_VALUES_KEY, {})
    return {
        name: value.isoformat() if isinstance(value, dt.datetime) else value
        for name, value in remembered.items()
        if name in changed
    }
