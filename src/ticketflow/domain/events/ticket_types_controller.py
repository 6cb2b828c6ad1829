"""HTTP endpoints of ticket types: what an event sells (admins manage them, everyone reads them)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from ticketflow.db.models.events import Event as EventModel
from ticketflow.db.models.ticket_types import BASIS_POINTS_PER_PERCENT
from ticketflow.db.models.ticket_types import TicketType as TicketTypeModel
from ticketflow.db.models.users import Role
from ticketflow.domain.accounts.auth import admin_only
from ticketflow.domain.events.schemas import TicketType, TicketTypeCreate, TicketTypePatch
from ticketflow.domain.events.ticket_types import TicketTypeService, type_available
from ticketflow.lib.access import TOKEN_OPTIONAL_ROUTE
from ticketflow.lib.api_docs import OPTIONAL_BEARER, id_parameter
from ticketflow.lib.error_handlers import BAD_INPUT, NO_TOKEN, NOT_JSON, TOO_LARGE, error_responses
from ticketflow.lib.json_bodies import require_json_body

EventId = Annotated[int, id_parameter("event id")]
TypeId = Annotated[int, id_parameter("ticket type id")]
NOT_ADMIN = (403, "only admins manage ticket types")
EVENT_NOT_FOUND = (404, "event not found")
TYPE_NOT_FOUND = (404, "ticket type not found")
BROKEN_RULE = (422, "sales window outside the event, or a capacity above the event's")


def to_ticket_type(ticket_type: TicketTypeModel, event: EventModel) -> TicketType:
    return TicketType(
        id=ticket_type.id,
        event_id=ticket_type.event_id,
        name=ticket_type.name,
        description=ticket_type.description,
        price_cents=ticket_type.price_cents,
        currency=event.currency,
        tax_rate=ticket_type.tax_rate,
        capacity=ticket_type.capacity,
        sold=ticket_type.sold,
        held=ticket_type.held,
        available=type_available(ticket_type, event),
        max_per_order=min(ticket_type.max_per_order or event.max_per_order, event.max_per_order),
        sales_start_at=ticket_type.sales_start_at,
        sales_end_at=ticket_type.sales_end_at,
        hidden=ticket_type.hidden,
        position=ticket_type.position,
        active=ticket_type.active,
    )


def type_values(data: TicketTypeCreate | TicketTypePatch) -> dict[str, Any]:
    """The columns a body sets (the percent tax rate stored in basis points)."""
    values = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
    if "tax_rate" in values:
        values["tax_rate_bp"] = round(values.pop("tax_rate") * BASIS_POINTS_PER_PERCENT)
    return values


def provide_ticket_type_service(db_session: NamedDependency[AsyncSession]) -> TicketTypeService:
    return TicketTypeService(db_session)


class TicketTypeController(Controller):
    tags = ["Ticket types"]
    dependencies = {"ticket_types": Provide(provide_ticket_type_service, sync_to_thread=False)}

    @get(
        "/events/{event_id:int}/ticket-types",
        opt=TOKEN_OPTIONAL_ROUTE,
        security=OPTIONAL_BEARER,
        operation_id="listTicketTypes",
        summary="The ticket types of an event",
        description=(
            "Visible, active types by position, each with `available` (the smaller of its own and"
            " the event's remaining seats). With an admin's token: every type, hidden and inactive too."
        ),
        responses=error_responses(BAD_INPUT, (401, "a token was sent but is not valid"), EVENT_NOT_FOUND),
    )
    async def list_ticket_types(
        self,
        request: Request[Any, Any, Any],
        ticket_types: NamedDependency[TicketTypeService],
        event_id: EventId,
    ) -> list[TicketType]:
        viewer = request.scope.get("user")
        everything = viewer is not None and viewer.role == Role.ADMIN
        event, types = await ticket_types.list_types(event_id, everything=everything)
        return [to_ticket_type(t, event) for t in types]

    @post(
        "/events/{event_id:int}/ticket-types",
        guards=[admin_only],
        before_request=require_json_body,
        operation_id="createTicketType",
        summary="Add a ticket type to an event (admin)",
        responses=error_responses(
            BAD_INPUT,
            NO_TOKEN,
            NOT_ADMIN,
            EVENT_NOT_FOUND,
            (409, "the event is cancelled"),
            TOO_LARGE,
            NOT_JSON,
            BROKEN_RULE,
        ),
    )
    async def create_ticket_type(
        self,
        ticket_types: NamedDependency[TicketTypeService],
        event_id: EventId,
        data: JSONBody[TicketTypeCreate],
    ) -> TicketType:
        ticket_type, event = await ticket_types.create_type(event_id, type_values(data))
        return to_ticket_type(ticket_type, event)

    @patch(
        "/ticket-types/{type_id:int}",
        guards=[admin_only],
        before_request=require_json_body,
        operation_id="updateTicketType",
        summary="Change a ticket type (admin)",
        description="Only the fields sent change. The capacity cannot go below what is sold or held.",
        responses=error_responses(
            BAD_INPUT,
            NO_TOKEN,
            NOT_ADMIN,
            TYPE_NOT_FOUND,
            (409, "capacity below the tickets sold or held"),
            TOO_LARGE,
            NOT_JSON,
            BROKEN_RULE,
        ),
    )
    async def update_ticket_type(
        self,
        ticket_types: NamedDependency[TicketTypeService],
        type_id: TypeId,
        data: JSONBody[TicketTypePatch],
    ) -> TicketType:
        ticket_type, event = await ticket_types.update_type(type_id, type_values(data))
        return to_ticket_type(ticket_type, event)

    @delete(
        "/ticket-types/{type_id:int}",
        guards=[admin_only],
        operation_id="deleteTicketType",
        summary="Remove a ticket type nothing was sold of (admin)",
        responses=error_responses(
            BAD_INPUT,
            NO_TOKEN,
            NOT_ADMIN,
            TYPE_NOT_FOUND,
            (
                409,
                "it has sales: deactivate it instead; or gates or vouchers still name it"
                " (listed in `extra.gates` and `extra.vouchers`): take it off them first",
            ),
        ),
    )
    async def delete_ticket_type(
        self, ticket_types: NamedDependency[TicketTypeService], type_id: TypeId
    ) -> None:
        await ticket_types.delete_type(type_id)
