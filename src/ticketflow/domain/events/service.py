"""Event use cases: publish, change, list, cancel."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from advanced_alchemy.filters import LimitOffset
from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from advanced_alchemy.service import OffsetPagination
from advanced_alchemy.utils.serialization import ModelDictT
from sqlalchemy import ColumnElement, UnaryExpression, delete, exists, func, or_, select, update

from ticketflow.db.base import utc_now
from ticketflow.db.models.events import Event, EventStatus
from ticketflow.db.models.orders import Order
from ticketflow.domain.events.dates import check_supported_dates
from ticketflow.domain.events.ticket_types import default_type, follow_single_type, refuse_if_cancelled
from ticketflow.domain.notifications.notifier import Notifier
from ticketflow.lib.errors import CapacityBelowTaken, ConflictError, EventNotFound, RuleViolation
from ticketflow.lib.i18n import N_
from ticketflow.lib.repository import RepositoryService

EVENT_FIELDS = (
    "title",
    "description",
    "venue",
    "starts_at",
    "ends_at",
    "capacity",
    "price_cents",
    "currency",
    "max_per_order",
    "timezone",
    "sales_start_at",
    "sales_end_at",
)
NOTIFIED_CHANGES = frozenset({"starts_at", "ends_at", "venue"})
"""Changes that holders are told about."""
DATE_FIELDS = ("starts_at", "ends_at", "sales_start_at", "sales_end_at")


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def check_event_rules(values: dict[str, Any], *, now: dt.datetime, starts_at_changed: bool) -> None:
    """Rules across fields, raised as `RuleViolation` (422)."""
    check_supported_dates(values, DATE_FIELDS)
    starts_at: dt.datetime = values["starts_at"]
    if starts_at_changed and starts_at <= now:
        raise RuleViolation(N_("starts_at must be in the future"), field="starts_at")
    ends_at: dt.datetime | None = values.get("ends_at")
    if ends_at is not None and ends_at <= starts_at:
        raise RuleViolation(N_("ends_at must be after starts_at"), field="ends_at")
    sales_start, sales_end = values.get("sales_start_at"), values.get("sales_end_at")
    if sales_start is not None and sales_start >= starts_at:
        raise RuleViolation(N_("sales_start_at must be before starts_at"), field="sales_start_at")
    if sales_end is not None and sales_end > starts_at:
        raise RuleViolation(N_("sales_end_at cannot be after starts_at"), field="sales_end_at")
    if sales_start is not None and sales_end is not None and sales_end <= sales_start:
        raise RuleViolation(N_("sales_end_at must be after sales_start_at"), field="sales_end_at")
    try:
        ZoneInfo(values["timezone"])
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise RuleViolation(N_("unknown time zone"), field="timezone") from exc


def listing_conditions(
    *, upcoming: bool | None, query: str | None, now: dt.datetime
) -> list[ColumnElement[bool]]:
    """The filters of `GET /events`: started or not, and a search in title, venue and description."""
    conditions: list[ColumnElement[bool]] = []
    if upcoming is True:
        conditions += [Event.starts_at > now, Event.status == EventStatus.SCHEDULED]
    elif upcoming is False:
        conditions.append(Event.starts_at <= now)
    if query:
        pattern = f"%{escape_like(query.lower())}%"
        conditions.append(
            or_(
                func.lower(Event.title).like(pattern, escape="\\"),
                func.lower(Event.venue).like(pattern, escape="\\"),
                func.lower(Event.description).like(pattern, escape="\\"),
            )
        )
    return conditions


class EventRepository(SQLAlchemyAsyncRepository[Event]):
    model_type = Event


class EventService(RepositoryService[Event, EventRepository]):
    """Use cases of events. Each public method is one transaction."""

    repository_type = EventRepository

    async def get_event(self, event_id: int) -> Event:
        event = await self.get_one_or_none(Event.id == event_id)
        if event is None:
            raise EventNotFound
        return event

    async def list_events(
        self,
        *,
        upcoming: bool | None,
        query: str | None,
        limit_offset: LimitOffset,
        latest_first: bool = False,
    ) -> OffsetPagination[Event]:
        """Ordered by start (then id), the earliest first, or the latest first (the back office's
        pickers: a page of them holds the coming events and the recent ones)."""
        conditions = listing_conditions(upcoming=upcoming, query=query, now=utc_now())
        order: list[UnaryExpression[Any]] = (
            [Event.starts_at.desc(), Event.id.desc()]
            if latest_first
            else [Event.starts_at.asc(), Event.id.asc()]
        )
        return await self.page(*conditions, limit_offset=limit_offset, order_by=order)

    async def to_model_on_create(self, data: ModelDictT[Event]) -> ModelDictT[Event]:
        """A new event: the rules across its fields hold, it is scheduled and nothing is sold yet."""
        if isinstance(data, dict):
            check_event_rules(data, now=utc_now(), starts_at_changed=True)
            data = data | {"status": EventStatus.SCHEDULED, "tickets_sold": 0, "tickets_held": 0}
        return data

    async def publish(self, values: dict[str, Any], *, admin_id: int) -> Event:
        """Create an event; the answer is what was stored (times in UTC)."""
        event = await self.create(values | {"admin_id": admin_id})
        self.session.add(default_type(event, utc_now()))
        await self.session.commit()
        return event

    async def change(
        self, event_id: int, changes: dict[str, Any], *, notifier: Notifier
    ) -> tuple[Event, set[str]]:
        """Apply `changes`; returns the event and the names of the fields that really changed.

        The capacity change is one conditional UPDATE, so it cannot slip under seats sold
        concurrently.
        """
        event = await self.get_event(event_id)
        refuse_if_cancelled(event)
        merged = {name: getattr(event, name) for name in EVENT_FIELDS} | changes
        changed = {name for name in changes if changes[name] != getattr(event, name)}
        check_event_rules(merged, now=utc_now(), starts_at_changed="starts_at" in changed)
        price_changed = bool(changed & {"currency", "price_cents"})
        announced = frozenset(changed & NOTIFIED_CHANGES)
        ordered = (price_changed or bool(announced)) and await self.has_orders(event_id)
        if price_changed and ordered:
            raise ConflictError(N_("price and currency are fixed once tickets have been ordered"))
        if "capacity" in changed:
            result = await self.session.execute(
                update(Event)
                .where(
                    Event.id == event_id,
                    Event.tickets_sold + Event.tickets_held <= changes["capacity"],
                )
                .values(capacity=changes["capacity"])
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                await self.session.rollback()
                raise CapacityBelowTaken
        for name in changed - {"capacity"}:
            setattr(event, name, changes[name])
        await follow_single_type(self.session, event_id, {name: changes[name] for name in changed})
        if announced and ordered:
            await notifier.event_changed(self.session, event_id, announced)
        await self.session.commit()
        await self.session.refresh(event)
        return event, changed

    async def has_orders(self, event_id: int) -> bool:
        return bool(await self.session.scalar(select(exists().where(Order.event_id == event_id))))

    async def delete_unsold(self, event_id: int) -> bool:
        """Remove an event nobody ordered; False when orders exist (then it must be cancelled)."""
        await self.get_event(event_id)
        result = await self.session.execute(
            delete(Event).where(Event.id == event_id, ~exists().where(Order.event_id == event_id))
        )
        await self.session.commit()
        return bool(result.rowcount)  # type: ignore[attr-defined]
