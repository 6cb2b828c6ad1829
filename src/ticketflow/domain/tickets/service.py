"""Ticket use cases: history, naming, transfer, cancellation, event cancellation (buying lives in
`purchase`).

Seats go back on sale through single UPDATE statements on the event's counters, in the same
transaction as the ticket's state change (see `purchase` for the inventory rule).

A new code (`replace_code`, for a transfer and for a reissue in `reissue`): the ticket gets a
signed code of the next version from the current first key, in one conditional UPDATE that names
the version it replaces and the state the caller saw (`... WHERE id = ? AND code_version = ? AND
status = 'active'`): of two simultaneous changes of one ticket (or a change and an admission)
exactly one matches. Every
earlier code of the ticket then admits no one: the door admits only the current version, and the
scanner bundle lists the version before it as revoked (the row's `updated_at` moves with it, so
a scanner's next incremental bundle carries the revocation).

Transfer: the ticket moves to another registered user with a new code; a unique `(ticket_id,
old_version)` in `ticket_transfers` backs the conditional UPDATE, and the door answers
`transferred` to every earlier code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from advanced_alchemy.filters import LimitOffset
from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from advanced_alchemy.service import OffsetPagination
from sqlalchemy import UnaryExpression, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ticketflow.db.base import utc_now
from ticketflow.db.models.checkins import CheckIn
from ticketflow.db.models.events import Event, EventStatus
from ticketflow.db.models.orders import Order, OrderStatus
from ticketflow.db.models.ticket_types import TicketType
from ticketflow.db.models.tickets import Ticket, TicketStatus, TicketTransfer, attendee_or_holder
from ticketflow.db.models.users import Role, User
from ticketflow.domain.notifications.notifier import Notifier
from ticketflow.domain.payments.holds import (
    give_back_voucher,
    lock_event,
    recount_types,
    rowcount,
    shift_types,
)
from ticketflow.domain.payments.hooks import Payments
from ticketflow.lib.errors import ConflictError, EventNotFound, RuleViolation, TicketNotFound
from ticketflow.lib.i18n import N_
from ticketflow.lib.repository import RepositoryService, again_if_deadlocked_in
from ticketflow.lib.signed_codes import TicketSigner

CANCELLABLE_STATUSES = (TicketStatus.PENDING, TicketStatus.ACTIVE)


def attended(ticket: Ticket) -> bool:
    """Whether the ticket was admitted at the door: `used`, or `active` again after it left
    through a re-entry gate (its `used_at` stays until an admin undoes the admission). Such a
    ticket is never cancelled, refunded or transferred by its holder."""
    return ticket.status == TicketStatus.USED or ticket.used_at is not None


NAMEABLE_STATUSES = (TicketStatus.PENDING, TicketStatus.ACTIVE)
"""A ticket that was used or cancelled keeps the name it had: it records who came (or not)."""


class HeldTicket(NamedTuple):
    """A ticket with its event and the name of the user who holds it."""

    ticket: Ticket
    event: Event
    holder_name: str
    type_name: str = ""
    """The name of the ticket's type."""

    @property
    def attendee_name(self) -> str:
        """Who attends with the ticket: the name given for it, else its holder."""
        return attendee_or_holder(self.ticket.attendee_name, self.holder_name)


def paid(held: HeldTicket) -> HeldTicket:
    """The ticket, if it has a code to show (`code_to_show`); an unpaid one is refused."""
    if held.ticket.status == TicketStatus.PENDING:
        raise TicketNotPaid
    return held


def admitting(held: HeldTicket) -> HeldTicket:
    """The ticket, if its code may still admit someone: a QR code or a printed ticket of a
    cancelled one would look valid to whoever holds it (the door refuses it)."""
    if held.ticket.status == TicketStatus.CANCELLED:
        raise TicketCancelled
    return paid(held)


async def held_tickets(session: AsyncSession, tickets: Sequence[Ticket]) -> list[HeldTicket]:
    """The tickets with their events and their holders' names, in the order given."""
    if not tickets:
        return []
    rows = await session.execute(
        select(Ticket.id, Event, User.name, TicketType.name)
        .join(Event, Event.id == Ticket.event_id)
        .join(User, User.id == Ticket.user_id)
        .join(TicketType, TicketType.id == Ticket.ticket_type_id)
        .where(Ticket.id.in_([ticket.id for ticket in tickets]))
    )
    found = {ticket_id: (event, name, type_name) for ticket_id, event, name, type_name in rows}
    return [HeldTicket(ticket, *found[ticket.id]) for ticket in tickets]


@dataclass(frozen=True, slots=True)
class TicketVersion:
    """What a ticket's signed code carries: its id, event, type and code version."""

    id: int
    event_id: int
    ticket_type_id: int | None
    code_version: int

    @classmethod
    def of(cls, ticket: Ticket) -> TicketVersion:
        return cls(ticket.id, ticket.event_id, ticket.ticket_type_id, ticket.code_version)


async def replace_code(
    session: AsyncSession,
    signer: TicketSigner,
    ticket: TicketVersion,
    now: dt.datetime,
    *conditions: Any,
    **values: Any,
) -> str | None:
    """Give `ticket` the signed code of its next version (and `values`), if it still has the
    version given and meets `conditions`: one conditional UPDATE (see the module's comment).
    The new code, or None when the ticket changed meanwhile (nothing was written)."""
    version = ticket.code_version + 1
    code = signer.sign(ticket.id, ticket.event_id, ticket.ticket_type_id, version)
    changed = await session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.code_version == ticket.code_version, *conditions)
        .values(code=code, code_version=version, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    return code if rowcount(changed) == 1 else None


class TicketNotCancellable(ConflictError):
    detail = N_("this ticket cannot be cancelled")


class TicketNotPaid(ConflictError):
    detail = N_("this ticket is not paid yet: its code comes with the payment")


class TicketCancelled(ConflictError):
    detail = N_("this ticket was cancelled: it admits no one")


class TicketNotRenamable(ConflictError):
    detail = N_("the attendee of a used or cancelled ticket cannot be changed")


class TicketNotTransferable(ConflictError):
    detail = N_("this ticket cannot be transferred")


class UnknownRecipient(RuleViolation):
    detail = N_("no registered user has this e-mail address")


class TransferTerms:
    """What a transfer needs besides the session: the signer of the new code and the holders'
    limit of transfers per ticket (0: holders may not transfer; admins are not limited)."""

    __slots__ = ("max_per_ticket", "signer")

    def __init__(self, signer: TicketSigner, max_per_ticket: int) -> None:
        self.signer = signer
        self.max_per_ticket = max_per_ticket


class TicketRepository(SQLAlchemyAsyncRepository[Ticket]):
    model_type = Ticket


class OrderRepository(SQLAlchemyAsyncRepository[Order]):
    model_type = Order


class TicketService(RepositoryService[Ticket, TicketRepository]):
    """Use cases of tickets. Each public method is one transaction."""

    repository_type = TicketRepository

    def __init__(
        self,
        session: AsyncSession,
        notifier: Notifier,
        payments: Payments,
        transfers: TransferTerms | None = None,
        **options: Any,
    ) -> None:
        super().__init__(session, **options)
        self.orders = OrderRepository(session=session, wrap_exceptions=False)
        self.notifier = notifier
        self.payments = payments
        self.transfers = transfers

    # -- reading ----------------------------------------------------------------------------

    async def get_visible(self, ticket_id: int, viewer: User) -> HeldTicket:
        """The ticket if `viewer` may see it: owner, admin, or staff who scanned the code it holds
        now (so not through a code it had lost by then, and not once a reissue or a transfer gave it
        a code they never saw). Else 404."""
        ticket = await self.get_one_or_none(Ticket.id == ticket_id)
        if ticket is None:
            raise TicketNotFound
        may_see = viewer.role == Role.ADMIN or ticket.user_id == viewer.id
        if not may_see and viewer.role == Role.STAFF:  # the code they scanned is the one it holds
            may_see = bool(
                await self.session.scalar(
                    select(func.count())
                    .select_from(CheckIn)
                    .where(
                        CheckIn.ticket_id == ticket_id,
                        CheckIn.scanned_by_id == viewer.id,
                        CheckIn.scanned_code == ticket.code,
                    )
                )
            )
        if not may_see:
            raise TicketNotFound
        (held,) = await self._held([ticket])
        return held

    async def get_own(self, ticket_id: int, viewer: User) -> HeldTicket:
        """The ticket if `viewer` holds it or is an admin (door staff who scanned it get 404)."""
        held = await self.get_visible(ticket_id, viewer)
        if viewer.role != Role.ADMIN and held.ticket.user_id != viewer.id:
            raise TicketNotFound
        return held

    async def get_code(self, ticket_id: int, viewer: User) -> HeldTicket:
        """As `get_visible`, for the ticket's QR code: 409 while unpaid and once cancelled."""
        return admitting(await self.get_visible(ticket_id, viewer))

    async def get_printable(self, ticket_id: int, viewer: User) -> HeldTicket:
        """As `get_own`, for the printable ticket (PDF): 409 while unpaid and once cancelled."""
        return admitting(await self.get_own(ticket_id, viewer))

    async def get_pass(self, ticket_id: int, viewer: User) -> HeldTicket:
        """As `get_own`, for the wallet pass: 409 while unpaid. A cancelled ticket's pass is
        voided, which is how a pass already in a wallet learns it no longer admits."""
        return paid(await self.get_own(ticket_id, viewer))

    async def list_tickets(
        self, *, viewer: User, event_id: int | None, limit_offset: LimitOffset
    ) -> OffsetPagination[HeldTicket]:
        """Own tickets newest first; an admin passing `event_id` gets all of that event's."""
        conditions = []
        if event_id is not None and viewer.role == Role.ADMIN:
            conditions.append(Ticket.event_id == event_id)
        else:
            conditions.append(Ticket.user_id == viewer.id)
            if event_id is not None:
                conditions.append(Ticket.event_id == event_id)
        order: list[UnaryExpression[Any]] = [Ticket.created_at.desc(), Ticket.id.desc()]
        found = await self.page(*conditions, limit_offset=limit_offset, order_by=order)
        held = await self._held(found.items)
        return OffsetPagination(items=held, total=found.total, limit=found.limit, offset=found.offset)

    async def _held(self, tickets: Sequence[Ticket]) -> list[HeldTicket]:
        return await held_tickets(self.session, tickets)

    # -- naming -----------------------------------------------------------------------------

    async def name_attendee(self, ticket_id: int, actor: User, attendee_name: str | None) -> HeldTicket:
        """Name who attends with a ticket (None: its holder again). Owner or admin.

        One conditional UPDATE, so a ticket scanned at the door meanwhile is never renamed, nor one
        transferred meanwhile (its new holder names its attendee).
        """
        held = await self.get_own(ticket_id, actor)
        if held.ticket.status not in NAMEABLE_STATUSES:
            raise TicketNotRenamable
        changed = await self.session.execute(
            update(Ticket)
            .where(
                Ticket.id == ticket_id,
                Ticket.status.in_(NAMEABLE_STATUSES),
                Ticket.user_id == held.ticket.user_id,
                Ticket.code_version == held.ticket.code_version,
            )
            .values(attendee_name=attendee_name, updated_at=utc_now())
            .execution_options(synchronize_session=False)
        )
        if rowcount(changed) != 1:
            await self.session.rollback()
            raise TicketNotRenamable
        await self.session.commit()
        await self.session.refresh(held.ticket)
        return held

    # -- transfer ---------------------------------------------------------------------------

    async def transfer_ticket(self, ticket_id: int, actor: User, email: str) -> HeldTicket:
        """Give the ticket to the registered user with `email`: a new code of the next version, the
        new holder's name as attendee, the chain kept, both holders told. Owner (before the event
        starts, within the limit of transfers) or admin. Run again if a deadlock's victim."""
        return await again_if_deadlocked_in(
            self.session, lambda: self._transfer_ticket(ticket_id, actor, email)
        )

    async def _transfer_ticket(self, ticket_id: int, actor: User, email: str) -> HeldTicket:
        terms = self.transfers
        if terms is None:  # pragma: no cover - the controller always provides them
            raise TicketNotTransferable(N_("transfers are not configured"))
        ticket, event, _, type_name = await self.get_own(ticket_id, actor)
        admin = actor.role == Role.ADMIN
        now = utc_now()
        if attended(ticket):
            raise TicketNotTransferable(N_("a used ticket cannot be transferred"))
        if ticket.status == TicketStatus.CANCELLED:
            raise TicketNotTransferable(N_("a cancelled ticket cannot be transferred"))
        if ticket.status != TicketStatus.ACTIVE:
            raise TicketNotTransferable(N_("an unpaid ticket cannot be transferred"))
        if event.starts_at <= now and not admin:
            raise TicketNotTransferable(N_("the event has already started"))
        receiver = await self.session.scalar(select(User).where(User.email == email.strip().lower()))
        if receiver is None:
            raise UnknownRecipient(reason="unknown_recipient")
        if receiver.id == ticket.user_id:
            raise RuleViolation(N_("this user already holds the ticket"), reason="same_holder")
        done = int(
            await self.session.scalar(
                select(func.count()).select_from(TicketTransfer).where(TicketTransfer.ticket_id == ticket_id)
            )
            or 0
        )
        if not admin and done >= terms.max_per_ticket:
            raise TicketNotTransferable(
                N_("this ticket may be transferred at most %(count)s times by its holders"),
                values={"count": terms.max_per_ticket},
                max_transfers=terms.max_per_ticket,
            )
        giver = await self.session.get_one(User, ticket.user_id)
        old_version, old_code = ticket.code_version, ticket.code
        moved = await replace_code(
            self.session,
            terms.signer,
            TicketVersion.of(ticket),
            now,
            Ticket.user_id == giver.id,
            Ticket.status == TicketStatus.ACTIVE,
            Ticket.used_at.is_(None),
            user_id=receiver.id,
            attendee_name=receiver.name,
        )
        if moved is None:
            await self.session.rollback()
            raise TicketNotTransferable(N_("the ticket changed meanwhile (used, cancelled or transferred)"))
        self.session.add(
            TicketTransfer(
                ticket_id=ticket_id,
                from_user_id=giver.id,
                to_user_id=receiver.id,
                by_user_id=actor.id,
                old_version=old_version,
                old_code=old_code,
                transferred_at=now,
            )
        )
        await self.session.flush()
        await self.notifier.ticket_transferred(
            self.session,
            ticket_id,
            (giver.id, giver.email, giver.name),
            (receiver.id, receiver.email, receiver.name),
        )
        await self.session.commit()
        await self.session.refresh(ticket)
        return HeldTicket(ticket, event, receiver.name, type_name)

    # -- cancellation -----------------------------------------------------------------------

    async def cancel_ticket(self, ticket_id: int, actor: User) -> HeldTicket:
        """Cancel one ticket and put its seat back on sale (run again if a deadlock's victim: it
        locks the event's row, then its order's tickets, which a scan or a transfer of one of them
        locks in the other order)."""
        return await again_if_deadlocked_in(self.session, lambda: self._cancel_ticket(ticket_id, actor))

    async def _cancel_ticket(self, ticket_id: int, actor: User) -> HeldTicket:
        ticket, event, holder_name, type_name = await self.get_visible(ticket_id, actor)
        if attended(ticket):
            raise TicketNotCancellable(N_("a used ticket cannot be cancelled"))
        if ticket.status == TicketStatus.CANCELLED:
            raise TicketNotCancellable(N_("the ticket is already cancelled"))
        now = utc_now()
        if event.starts_at <= now and actor.role != Role.ADMIN:
            raise TicketNotCancellable(N_("the event has already started"))
        previous_status = ticket.status
        # Event row first: the order in which purchase, payment and expiry take their locks.
        await lock_event(self.session, event.id, now)
        changed = await self.session.execute(
            update(Ticket)
            .where(Ticket.id == ticket_id, Ticket.status == previous_status, Ticket.used_at.is_(None))
            .values(status=TicketStatus.CANCELLED, cancelled_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if rowcount(changed) != 1:
            await self.session.rollback()
            raise TicketNotCancellable(N_("the ticket changed meanwhile; reload it"))
        counter = Event.tickets_held if previous_status == TicketStatus.PENDING else Event.tickets_sold
        await self.session.execute(
            update(Event)
            .where(Event.id == event.id)
            .values({counter: counter - 1})
            .execution_options(synchronize_session=False)
        )
        pending = previous_status == TicketStatus.PENDING
        await shift_types(self.session, {ticket.ticket_type_id: 1}, held=-pending, sold=-(not pending))
        order = await self.orders.get_one_or_none(Order.id == ticket.order_id)
        if order is not None and order.status == OrderStatus.PAID and order.amount_cents > 0:
            await self.payments.refund_ticket(self.session, order, ticket)
        await self._settle_order(ticket.order_id, now)
        await self.notifier.ticket_cancelled(self.session, ticket_id)
        await self.session.commit()
        await self.session.refresh(ticket)
        await self.session.refresh(event)
        return HeldTicket(ticket, event, holder_name, type_name)

    async def _settle_order(self, order_id: int, now: dt.datetime) -> None:
        """An order whose tickets are all cancelled is closed: refunded if money was taken.

        Locking reads, under the event's lock: the last of two tickets cancelled at once sees the
        other's cancellation (a plain read on MariaDB would see the snapshot from before it waited
        for the lock, and leave the order open with no ticket)."""
        live = await self.session.scalar(
            select(func.count())
            .select_from(Ticket)
            .where(Ticket.order_id == order_id, Ticket.status != TicketStatus.CANCELLED)
            .with_for_update()
        )
        if live:
            return
        order = await self.session.scalar(
            select(Order)
            .where(Order.id == order_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if order is None or order.status not in (OrderStatus.PENDING, OrderStatus.PAID):
            return
        money_taken = order.status == OrderStatus.PAID and order.amount_cents > 0
        await give_back_voucher(self.session, order_id)
        order.status = OrderStatus.REFUNDED if money_taken else OrderStatus.CANCELLED
        order.updated_at = now

    async def cancel_event(self, event_id: int) -> Event:
        """Cancel an event that has orders: every live ticket cancelled, orders closed, holders told.

        Used tickets stay `used`: they record who was admitted. Nothing is deleted.
        """
        event = await self.session.get(Event, event_id)
        if event is None:
            raise EventNotFound
        now = utc_now()
        await lock_event(self.session, event_id, now)
        # Locking reads from here on, in the lock order (event, orders, tickets): an order paid,
        # or a ticket cancelled or scanned, while this waited for the event's lock is seen as it
        # is now (MariaDB's plain read would show the snapshot from before the wait: a paid order
        # as pending, closed without a refund).
        open_orders = list(
            await self.session.scalars(
                select(Order)
                .where(Order.event_id == event_id, Order.status.in_([OrderStatus.PENDING, OrderStatus.PAID]))
                .order_by(Order.id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        )
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
            .with_for_update()
        )
        await self.session.execute(
            update(Event)
            .where(Event.id == event_id)
            .values(tickets_sold=int(used or 0), tickets_held=0)
            .execution_options(synchronize_session=False)
        )
        await recount_types(self.session, event_id)
        for order in open_orders:
            await give_back_voucher(self.session, order.id)
            if order.status == OrderStatus.PAID and order.amount_cents > 0:
                await self.payments.refund_order(self.session, order, event)
                order.status = OrderStatus.REFUNDED
            else:
                order.status = OrderStatus.CANCELLED
            order.updated_at = now
        await self.notifier.event_cancelled(self.session, event_id, cancelled_at=now)
        await self.session.commit()
        await self.session.refresh(event)
        return event
