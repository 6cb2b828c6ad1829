"""Ticket types of an event: what it sells, at which price, within which caps.

An event always has at least one type; one created with a single price and capacity gets
"General admission" with them, and while it has exactly one type, changing the event's price or
capacity changes that type too. The event's `price_cents` is kept equal to the lowest price of
its visible active types, so listings need no join.

Counters (`sold`, `held`) change only with the event's, under the event row lock (see
`ticketflow.db.models.ticket_types`); a capacity change is one conditional UPDATE, so it cannot
slip under seats taken concurrently.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from advanced_alchemy.utils.serialization import ModelDictT
from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ticketflow.db.base import utc_now
from ticketflow.db.models.events import Event, EventStatus
from ticketflow.db.models.gates import Gate
from ticketflow.db.models.ticket_types import DEFAULT_TYPE_NAME, OrderLine, TicketType
from ticketflow.db.models.tickets import Ticket
from ticketflow.db.models.vouchers import Voucher, voucher_ticket_types
from ticketflow.domain.events.dates import check_supported_dates
from ticketflow.domain.payments.holds import lock_event
from ticketflow.lib.errors import ConflictError, EventNotFound, NotFoundError, Phrase, RuleViolation
from ticketflow.lib.i18n import N_
from ticketflow.lib.repository import RepositoryService

TYPE_FIELDS = (
    "name",
    "description",
    "price_cents",
    "tax_rate_bp",
    "capacity",
    "max_per_order",
    "sales_start_at",
    "sales_end_at",
    "hidden",
    "position",
    "active",
)


class TicketTypeNotFound(NotFoundError):
    detail = N_("ticket type not found")


class TicketTypeHasSales(ConflictError):
    detail = N_("this ticket type has sales: deactivate it instead (active: false)")


class TicketTypeInUse(ConflictError):
    """Gates or vouchers still name the type. Deleting it would leave them naming nothing, and a
    list emptied by the deletion reads "every type": a VIP-only door or discount would widen to all."""

    def __init__(self, gates: list[Gate], vouchers: list[Voucher]) -> None:
        named = [Phrase(N_("gate %(name)s"), {"name": gate.name}) for gate in gates] + [
            Phrase(N_("voucher %(code)s"), {"code": voucher.code}) for voucher in vouchers
        ]
        super().__init__(
            N_("this ticket type is still named by %(names)s: take it off them first"),
            values={"names": named},
            gates=[{"id": gate.id, "name": gate.name} for gate in gates],
            vouchers=[{"id": voucher.id, "code": voucher.code} for voucher in vouchers],
        )


class TypeCapacityBelowTaken(ConflictError):
    detail = N_("capacity cannot go below the tickets of this type already sold or held")


def type_available(ticket_type: TicketType, event: Event) -> int:
    """Seats a buyer can get of this type now: the smaller of its own and the event's remaining."""
    own = ticket_type.remaining
    left = event.tickets_available
    return left if own is None else min(own, left)


async def require_types_of_event(session: AsyncSession, event_id: int, type_ids: list[int]) -> None:
    """422 unless every id in `type_ids` is a ticket type of the event (gates and vouchers name them)."""
    if not type_ids:
        return
    known = set(
        await session.scalars(
            select(TicketType.id).where(TicketType.event_id == event_id, TicketType.id.in_(type_ids))
        )
    )
    unknown = sorted(set(type_ids) - known)
    if unknown:
        raise RuleViolation(N_("ticket types not of this event"), field="ticket_type_ids", unknown=unknown)


def refuse_if_cancelled(event: Event) -> None:
    """A cancelled event is history: it, its ticket types, vouchers and gates stay as they were."""
    if event.is_cancelled:
        raise ConflictError(N_("a cancelled event cannot be changed"))


async def lock_changeable_event(session: AsyncSession, event_id: int) -> None:
    """The event's lock (`lock_event`), with the event still not cancelled under it: the check
    before the lock read a snapshot, and a cancellation that committed while this waited for the
    lock is seen only by a locking read."""
    if await lock_event(session, event_id, utc_now()) == EventStatus.CANCELLED:
        raise ConflictError(N_("a cancelled event cannot be changed"))


async def changeable_event(session: AsyncSession, event_id: int) -> Event:
    """The event whose types, vouchers or gates are about to change: it exists and is not cancelled."""
    event = await session.get(Event, event_id)
    if event is None:
        raise EventNotFound
    refuse_if_cancelled(event)
    return event


def check_type_rules(values: dict[str, Any], event: Event) -> None:
    check_supported_dates(values, ("sales_start_at", "sales_end_at"))
    start, end = values.get("sales_start_at"), values.get("sales_end_at")
    if start is not None and start >= event.starts_at:
        raise RuleViolation(N_("sales_start_at must be before the event starts"), field="sales_start_at")
    if end is not None and end > event.starts_at:
        raise RuleViolation(N_("sales_end_at cannot be after the event starts"), field="sales_end_at")
    if start is not None and end is not None and end <= start:
        raise RuleViolation(N_("sales_end_at must be after sales_start_at"), field="sales_end_at")
    capacity = values.get("capacity")
    if capacity is not None and capacity > event.capacity:
        raise RuleViolation(N_("a type's capacity cannot exceed the event's capacity"), field="capacity")


def default_type(event: Event, now: dt.datetime) -> TicketType:
    """The one type of an event published with a single price and capacity."""
    return TicketType(
        event_id=event.id,
        name=DEFAULT_TYPE_NAME,
        description="",
        price_cents=event.price_cents,
        tax_rate_bp=0,
        capacity=event.capacity,
        sold=event.tickets_sold,
        held=event.tickets_held,
        max_per_order=None,
        sales_start_at=None,
        sales_end_at=None,
        hidden=False,
        position=0,
        active=True,
        created_at=now,
        updated_at=now,
    )


def types_listed(event_id: int, *, everything: bool) -> list[ColumnElement[bool]]:
    """The conditions of an event's types as listed; the public sees only visible active ones."""
    conditions = [TicketType.event_id == event_id]
    if not everything:
        conditions += [TicketType.active.is_(True), TicketType.hidden.is_(False)]
    return conditions


TYPE_ORDER = (TicketType.position.asc(), TicketType.id.asc())
"""Types by position (then id), the order buyers see them in."""


async def sync_event_price(session: AsyncSession, event_id: int) -> None:
    """The event's `price_cents` = the lowest price of its visible active types (unchanged if none).
    The caller holds the event's lock; the types are read as they are now (a locking read), not as
    the transaction's snapshot from before that lock had them (another type's price changed
    meanwhile)."""
    lowest = await session.scalar(
        select(func.min(TicketType.price_cents))
        .where(TicketType.event_id == event_id, TicketType.active.is_(True), TicketType.hidden.is_(False))
        .with_for_update()
    )
    if lowest is not None:
        await session.execute(
            update(Event)
            .where(Event.id == event_id)
            .values(price_cents=lowest)
            .execution_options(synchronize_session=False)
        )


async def follow_single_type(session: AsyncSession, event_id: int, changes: dict[str, Any]) -> None:
    """An event with exactly one type: its price and capacity follow the event's. With several,
    the event's price stays the lowest of theirs."""
    follow = {name: changes[name] for name in ("price_cents", "capacity") if name in changes}
    if not follow:
        return
    count = await session.scalar(select(func.count()).where(TicketType.event_id == event_id))
    if count != 1:
        await sync_event_price(session, event_id)
    else:
        await session.execute(
            update(TicketType)
            .where(TicketType.event_id == event_id)
            .values(**follow, updated_at=utc_now())
            .execution_options(synchronize_session=False)
        )


class TicketTypeRepository(SQLAlchemyAsyncRepository[TicketType]):
    model_type = TicketType


class TicketTypeService(RepositoryService[TicketType, TicketTypeRepository]):
    """Use cases of ticket types. Each public method is one transaction.

    A change takes the event's lock (`lock_event`) before it writes, as a purchase does: purchases
    lock the event, then its types and vouchers, so a change that locked a type or a voucher first
    and then wrote the event (its lowest price, say) would deadlock with a buyer in between."""

    repository_type = TicketTypeRepository

    async def event(self, event_id: int) -> Event:
        event = await self.session.get(Event, event_id)
        if event is None:
            raise EventNotFound
        return event

    async def types_of(self, event_id: int, *, everything: bool) -> list[TicketType]:
        """The event's types by position; the public sees only visible active ones."""
        conditions = types_listed(event_id, everything=everything)
        return list(await self.get_many(*conditions, order_by=list(TYPE_ORDER)))

    async def get_type(self, type_id: int) -> tuple[TicketType, Event]:
        ticket_type = await self.get_one_or_none(TicketType.id == type_id)
        if ticket_type is None:
            raise TicketTypeNotFound
        return ticket_type, await self.event(ticket_type.event_id)

    async def list_types(self, event_id: int, *, everything: bool) -> tuple[Event, list[TicketType]]:
        event = await self.event(event_id)
        return event, await self.types_of(event_id, everything=everything)

    async def to_model_on_create(self, data: ModelDictT[TicketType]) -> ModelDictT[TicketType]:
        """A new type has sold and held nothing, and comes last unless given a position."""
        if isinstance(data, dict):
            data = data | {"sold": 0, "held": 0}
            if data.get("position") is None:
                last = await self.session.scalar(
                    select(func.max(TicketType.position)).where(TicketType.event_id == data["event_id"])
                )
                data["position"] = 0 if last is None else last + 1
        return data

    async def create_type(self, event_id: int, values: dict[str, Any]) -> tuple[TicketType, Event]:
        event = await changeable_event(self.session, event_id)
        check_type_rules(values, event)
        await lock_changeable_event(self.session, event_id)
        ticket_type = await self.create(values | {"event_id": event_id})
        await sync_event_price(self.session, event_id)
        await self.session.commit()
        await self.session.refresh(event)
        await self.session.refresh(ticket_type)
        return ticket_type, event

    async def update_type(self, type_id: int, changes: dict[str, Any]) -> tuple[TicketType, Event]:
        ticket_type, event = await self.get_type(type_id)
        refuse_if_cancelled(event)
        merged = {name: getattr(ticket_type, name) for name in TYPE_FIELDS} | changes
        check_type_rules(merged, event)
        await lock_changeable_event(self.session, event.id)
        if "capacity" in changes and changes["capacity"] is not None:
            resized = await self.session.execute(
                update(TicketType)
                .where(TicketType.id == type_id, TicketType.sold + TicketType.held <= changes["capacity"])
                .values(capacity=changes["capacity"])
                .execution_options(synchronize_session=False)
            )
            if resized.rowcount != 1:  # type: ignore[attr-defined]
                await self.session.rollback()
                raise TypeCapacityBelowTaken
        for name, value in changes.items():
            if name != "capacity" or value is None:
                setattr(ticket_type, name, value)
        ticket_type.updated_at = utc_now()
        await self.session.flush()
        await sync_event_price(self.session, event.id)
        await self.session.commit()
        await self.session.refresh(ticket_type)
        await self.session.refresh(event)
        return ticket_type, event

    async def delete_type(self, type_id: int) -> None:
        """Remove a type nothing was sold of and no gate or voucher names; a type with sales is
        deactivated instead (409), one still named is first taken off its gates and vouchers (409)."""
        _, event = await self.get_type(type_id)
        refuse_if_cancelled(event)
        # After the event's lock no purchase of the type can start; locking reads see one that
        # committed while this waited (the snapshot from before the wait would not).
        await lock_changeable_event(self.session, event.id)
        sold = (
            await self.session.scalar(
                select(OrderLine.id).where(OrderLine.ticket_type_id == type_id).limit(1).with_for_update()
            )
        ) or (
            await self.session.scalar(
                select(Ticket.id).where(Ticket.ticket_type_id == type_id).limit(1).with_for_update()
            )
        )
        if sold:
            raise TicketTypeHasSales
        gates = [
            gate
            for gate in await self.session.scalars(
                select(Gate).where(Gate.event_id == event.id).order_by(Gate.id)
            )
            if type_id in gate.ticket_type_ids
        ]
        vouchers = list(
            await self.session.scalars(
                select(Voucher)
                .join(voucher_ticket_types, voucher_ticket_types.c.voucher_id == Voucher.id)
                .where(voucher_ticket_types.c.ticket_type_id == type_id)
                .order_by(Voucher.id)
            )
        )
        if gates or vouchers:
            raise TicketTypeInUse(gates, vouchers)
        await self.delete(type_id)
        await sync_event_price(self.session, event.id)
        await self.session.commit()
