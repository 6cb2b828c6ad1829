"""HTTP endpoints of events."""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo

import msgspec
from advanced_alchemy.filters import LimitOffset
from litestar import Controller, Request, delete, get, patch, post, put
from litestar.di import NamedDependency, Provide
from litestar.openapi.spec import Link
from litestar.params import JSONBody, Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from ticketflow.db.models.events import Event as EventModel
from ticketflow.db.models.ticket_types import TicketType as TicketTypeModel
from ticketflow.db.models.users import Role, User
from ticketflow.domain.accounts.auth import admin_only
from ticketflow.domain.events.schemas import Event, EventCreate, EventPage, EventPatch
from ticketflow.domain.events.service import EventService
from ticketflow.domain.events.ticket_types import TicketTypeService
from ticketflow.domain.events.ticket_types_controller import to_ticket_type
from ticketflow.domain.notifications.notifier import Notifier
from ticketflow.domain.tickets.service import TicketService
from ticketflow.lib.access import PUBLIC_ROUTE, TOKEN_OPTIONAL_ROUTE
from ticketflow.lib.api_docs import OPTIONAL_BEARER, PUBLIC, id_parameter, links_on
from ticketflow.lib.error_handlers import BAD_INPUT, JSON_BODY_ERRORS, NO_TOKEN, error_responses
from ticketflow.lib.json_bodies import require_json_body
from ticketflow.lib.pagination import page_of, provide_limit_offset

EventId = Annotated[int, id_parameter("event id")]
NOT_ADMIN = (403, "only admins manage events")
NOT_FOUND = (404, "event not found")
CONFLICT = (409, "capacity below the tickets sold or held, event cancelled, or price already fixed")
BROKEN_RULE = (
    422,
    "a rule across fields is broken: starts_at in the past, ends_at before starts_at,"
    " unknown time zone, sales window outside the event",
)


def to_event(event: EventModel, ticket_types: list[TicketTypeModel] | None = None) -> Event:
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
        status=event.status,
        sales_start_at=event.sales_start_at,
        sales_end_at=event.sales_end_at,
        admin_id=event.admin_id,
        created_at=event.created_at,
        updated_at=event.updated_at,
        ticket_types=None if ticket_types is None else [to_ticket_type(t, event) for t in ticket_types],
    )


async def with_types(events: EventService, event: EventModel) -> Event:
    """An admin's answer: the event with all its ticket types."""
    return to_event(event, await TicketTypeService(events.session).types_of(event.id, everything=True))


def provide_event_service(db_session: NamedDependency[AsyncSession]) -> EventService:
    return EventService(db_session)


class EventController(Controller):
    path = "/events"
    tags = ["Events"]
    dependencies = {
        "events": Provide(provide_event_service, sync_to_thread=False),
        "limit_offset": Provide(provide_limit_offset, sync_to_thread=False),
    }

    @get(
        "/",
        opt=PUBLIC_ROUTE,
        security=PUBLIC,
        operation_id="listEvents",
        summary="List events",
        description=(
            "Ordered by start. `upcoming=true`: scheduled events not started yet."
            " `q` searches title, venue and description (case-insensitive; `%` and `_` are literal)."
        ),
        responses=error_responses((400, "a filter is not valid")),
    )
    async def list_events(
        self,
        events: NamedDependency[EventService],
        limit_offset: NamedDependency[LimitOffset],
        upcoming: Annotated[
            bool | None, Parameter(description="true: scheduled and not started; false: started")
        ] = None,
        q: Annotated[str | None, Parameter(max_length=200, description="search text")] = None,
    ) -> EventPage:
        return page_of(
            await events.list_events(upcoming=upcoming, query=q, limit_offset=limit_offset), to_event
        )

    @get(
        "/{event_id:int}",
        opt=TOKEN_OPTIONAL_ROUTE,
        security=OPTIONAL_BEARER,
        operation_id="getEvent",
        summary="One event, with its ticket types",
        description="Embeds the visible active `ticket_types` (with an admin's token: all of them).",
        responses=error_responses(BAD_INPUT, (401, "a token was sent but is not valid"), NOT_FOUND),
    )
    async def get_event(
        self,
        request: Request[Any, Any, Any],
        events: NamedDependency[EventService],
        event_id: EventId,
    ) -> Event:
        viewer = request.scope.get("user")
        event = await events.get_event(event_id)
        everything = viewer is not None and viewer.role == Role.ADMIN
        types = await TicketTypeService(events.session).types_of(event_id, everything=everything)
        return to_event(event, types)

    @post(
        "/",
        guards=[admin_only],
        before_request=require_json_body,
        operation_id="createEvent",
        operation_class=links_on(
            201,
            getCreatedEvent=Link(operation_id="getEvent", parameters={"event_id": "$response.body#/id"}),
            buyTicketsOfCreatedEvent=Link(
                operation_id="purchaseTickets", parameters={"event_id": "$response.body#/id"}
            ),
        ),
        summary="Publish an event (admin)",
        description="`starts_at` must be in the future and carry an offset; `ends_at`, if given, after it.",
        responses=error_responses(*JSON_BODY_ERRORS, NO_TOKEN, NOT_ADMIN, BROKEN_RULE),
    )
    async def create_event(
        self,
        request: Request[User, Any, Any],
        events: NamedDependency[EventService],
        data: JSONBody[EventCreate],
    ) -> Event:
        values = msgspec.structs.asdict(data)
        return await with_types(events, await events.publish(values, admin_id=request.user.id))

    @put(
        "/{event_id:int}",
        guards=[admin_only],
        before_request=require_json_body,
        operation_id="replaceEvent",
        summary="Replace an event (admin)",
        description=(
            "Full update: fields left out take their defaults. Capacity cannot go below the"
            " tickets sold or held; price and currency are fixed once tickets were ordered."
        ),
        responses=error_responses(*JSON_BODY_ERRORS, NO_TOKEN, NOT_ADMIN, NOT_FOUND, CONFLICT, BROKEN_RULE),
    )
    async def replace_event(
        self,
        events: NamedDependency[EventService],
        notifier: NamedDependency[Notifier],
        event_id: EventId,
        data: JSONBody[EventCreate],
    ) -> Event:
        event, _ = await events.change(event_id, msgspec.structs.asdict(data), notifier=notifier)
        return await with_types(events, event)

    @patch(
        "/{event_id:int}",
        guards=[admin_only],
        before_request=require_json_body,
        operation_id="updateEvent",
        summary="Change some fields of an event (admin)",
        description="Only the fields sent change; the rules of a full update apply.",
        responses=error_responses(*JSON_BODY_ERRORS, NO_TOKEN, NOT_ADMIN, NOT_FOUND, CONFLICT, BROKEN_RULE),
    )
    async def patch_event(
        self,
        events: NamedDependency[EventService],
        notifier: NamedDependency[Notifier],
        event_id: EventId,
        data: JSONBody[EventPatch],
    ) -> Event:
        changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
        event, _ = await events.change(event_id, changes, notifier=notifier)
        return await with_types(events, event)

    @delete(
        "/{event_id:int}",
        guards=[admin_only],
        operation_id="deleteEvent",
        summary="Delete or cancel an event (admin)",
        description=(
            "An event nobody ordered is removed. Otherwise it is cancelled: every live ticket"
            " cancelled, paid orders refunded, holders notified. Nothing is lost."
        ),
        responses=error_responses(BAD_INPUT, NO_TOKEN, NOT_ADMIN, NOT_FOUND),
    )
    async def delete_event(
        self,
        events: NamedDependency[EventService],
        tickets: NamedDependency[TicketService],
        event_id: EventId,
    ) -> None:
        if not await events.delete_unsold(event_id):
            await tickets.cancel_event(event_id)
