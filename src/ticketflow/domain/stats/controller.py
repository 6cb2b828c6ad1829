"""GET /stats and GET /events/{id}/stats (admins)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency, Provide
from sqlalchemy.ext.asyncio import AsyncSession

from ticketflow.domain.accounts.auth import admin_only
from ticketflow.domain.stats.schemas import EventStats, StatsOverview
from ticketflow.domain.stats.service import StatsService
from ticketflow.lib.api_docs import id_parameter
from ticketflow.lib.error_handlers import BAD_INPUT, NO_TOKEN, error_responses

NOT_ADMIN = (403, "only admins see the figures")
EventId = Annotated[int, id_parameter("event id")]


def provide_stats_service(db_session: NamedDependency[AsyncSession]) -> StatsService:
    return StatsService(db_session)


class StatsController(Controller):
    tags = ["Stats"]
    dependencies = {"stats": Provide(provide_stats_service, sync_to_thread=False)}

    @get(
        "/stats",
        guards=[admin_only],
        operation_id="getStats",
        summary="Sales and check-in figures of every event (admin)",
        description=(
            "Per event: capacity, sold, held, available, cancelled, checked in, check-in rate,"
            " refused scans and revenue (paid order amounts minus refunds, in the event's"
            " currency); the totals over all events (money summed per currency); and tickets sold"
            " per UTC day. Events are listed latest first."
        ),
        responses=error_responses(NO_TOKEN, NOT_ADMIN),
    )
    async def overview(self, stats: NamedDependency[StatsService]) -> StatsOverview:
        return await stats.overview()

    @get(
        "/events/{event_id:int}/stats",
        guards=[admin_only],
        operation_id="getEventStats",
        summary="Sales and check-in figures of one event (admin)",
        description=(
            "The event's figures, tickets sold per day and door scans per 15-minute slot"
            " (admitted and refused), both in the event's time zone."
        ),
        responses=error_responses(BAD_INPUT, NO_TOKEN, NOT_ADMIN, (404, "event not found")),
    )
    async def event_stats(self, stats: NamedDependency[StatsService], event_id: EventId) -> EventStats:
        return await stats.event_stats(event_id)
