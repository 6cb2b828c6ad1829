"""HTTP endpoints of events."""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo

import msgspec
from litestar import Controller, Request, delete, get, patch, post, put
from litestar.di import Provide
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from ticketflow.db.models.events import Event as EventModel
from ticketflow.db.models.users import User
from ticketflow.domain.accounts.auth import EXCLUDE_FROM_AUTH, admin_only
from ticketflow.domain.events.schemas import Event, EventCreate, EventPage, EventPatch
from ticketflow.domain.events.service import EventService
from ticketflow.domain.tickets.service import TicketService
from ticketflow.lib.state import AppContext

EventId = Annotated[int, Parameter(ge=1, le=2**62, description="event id")]


def to_event(event: EventModel) -> Event:
    local = event.starts_at.astimezone(ZoneInfo(event.timezone))
    return Event(
        id=event.id,
        title=event.title,
        description=event.description,
        venue=event.venue,
        starts_at=event.starts_at,
        ends_at=event.ends_at,
        date=local.date().isoformat(),
        time=local.strftime("%H:%M"),
        timezone=event.timezone,
        capacity=event.capacity,
        tickets_sold=event.tickets_sold,
        tickets_held=event.tickets_held,
        tickets_available=event.tickets_available,
        price_cents=event.price_cents,
        currency=event.currency,
        max_per_order=event.max_per_order,
        status=event.status,  # type: ignore[arg-type]
        sales_start_at=event.sales_start_at,
        sales_end_at=event.sales_end_at,
        admin_id=event.admin_id,
        created_at=event.created_at,
        updated_at=event.updated_at,
    )


def provide_event_service(db_session: AsyncSession) -> EventService:
    return EventService(db_session)


class EventController(Controller):
    path = "/events"
    tags = ["Events"]
    dependencies = {"events": Provide(provide_event_service, sync_to_thread=False)}

    @get(
        "/",
        opt=EXCLUDE_FROM_AUTH,
        security=[{}],
        summary="List events",
        description=(
            "Ordered by start. `upcoming=true`: scheduled events not started yet."
            " `q` searches title, venue and description."
        ),
    )
    async def list_events(
        self,
        events: EventService,
        upcoming: bool | None = None,
        q: Annotated[str | None, Parameter(max_length=200, description="search text")] = None,
        limit: Annotated[int, Parameter(ge=1, le=100)] = 20,
        offset: Annotated[int, Parameter(ge=0, le=1_000_000)] = 0,
    ) -> EventPage:
        page = await events.list(upcoming=upcoming, query=q, limit=limit, offset=offset)
        return EventPage(
            items=[to_event(e) for e in page.items], total=page.total, limit=limit, offset=offset
        )

    @get("/{event_id:int}", opt=EXCLUDE_FROM_AUTH, security=[{}], summary="One event")
    async def get_event(self, events: EventService, event_id: EventId) -> Event:
        return to_event(await events.get(event_id))

    @post("/", guards=[admin_only], summary="Publish an event (admin)")
    async def create_event(
        self, request: Request[User, Any, Any], events: EventService, data: EventCreate
    ) -> Event:
        values = msgspec.structs.asdict(data)
        return to_event(await events.create(values, admin_id=request.user.id))

    @put("/{event_id:int}", guards=[admin_only], summary="Replace an event (admin)")
    async def replace_event(
        self, events: EventService, context: AppContext, event_id: EventId, data: EventCreate
    ) -> Event:
        event, _ = await events.update(event_id, msgspec.structs.asdict(data), notifier=context.notifier)
        return to_event(event)

    @patch("/{event_id:int}", guards=[admin_only], summary="Change some fields of an event (admin)")
    async def patch_event(
        self, events: EventService, context: AppContext, event_id: EventId, data: EventPatch
    ) -> Event:
        changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
        event, _ = await events.update(event_id, changes, notifier=context.notifier)
        return to_event(event)

    @delete(
        "/{event_id:int}",
        guards=[admin_only],
        summary="Delete or cancel an event (admin)",
        description=(
            "An event nobody ordered is removed. Otherwise it is cancelled: every live ticket"
            " cancelled, paid orders refunded, holders notified. Nothing is lost."
        ),
    )
    async def delete_event(self, events: EventService, tickets: TicketService, event_id: EventId) -> None:
        if not await events.delete_unsold(event_id):
            await tickets.cancel_event(event_id)
