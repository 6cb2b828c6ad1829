"""GET /stats and GET /events/{id}/stats (admins)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.di import Provide
from litestar.exceptions import NotAuthorizedException, NotFoundException, PermissionDeniedException
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from ticketflow.domain.accounts.auth import admin_only
from ticketflow.domain.stats.schemas import EventStats, StatsOverview
from ticketflow.domain.stats.service import StatsService

GUARDED = [NotAuthorizedException, PermissionDeniedException]
EventId = Annotated[int, Parameter(ge=1, le=2**62, description="event id")]


def provide_stats_service(db_session: AsyncSession) -> StatsService:
    return StatsService(db_session)


class StatsController(Controller):
    tags = ["Stats"]
    guards = [admin_only]
    dependencies = {"stats": Provide(provide_stats_service, sync_to_thread=False)}

    @get(
        "/stats",
        summary="Sales and check-in figures of every event (admin)",
        description=(
            "Per event: capacity, sold, held, available, cancelled, checked in, check-in rate,"
            " refused scans and revenue (paid order amounts minus refunds, in the event's"
            " currency); the totals over all events (money summed per currency); and tickets sold"
            " per UTC day. Events are listed latest first."
        ),
        raises=GUARDED,
    )
    async def overview(self, stats: StatsService) -> StatsOverview:
        return await stats.overview()

    @get(
        "/events/{event_id:int}/stats",
        summary="Sales and check-in figures of one event (admin)",
        description=(
            "The event's figures, tickets sold per day and door scans per 15-minute slot"
            " (admitted and refused), both in the event's time zone."
        ),
        raises=[*GUARDED, NotFoundException],
    )
    async def event_stats(self, stats: StatsService, event_id: EventId) -> EventStats:
        return await stats.event_stats(event_id)
