"""The dashboard: figures of every event at a glance, one page an event, CSV exports."""

from __future__ import annotations

from typing import Any, ClassVar

from markupsafe import Markup
from sqladmin import BaseView, expose
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ticketflow.admin.auth import is_admin
from ticketflow.admin.charts import bar_chart, check_in_bars, sales_bars
from ticketflow.admin.exports import check_in_csv, figures_csv, ticket_csv
from ticketflow.admin.forms import http_refusal, not_found
from ticketflow.domain.stats.service import StatsService
from ticketflow.lib.errors import EventNotFound
from ticketflow.lib.i18n import N_, current_language, gettext_for, lazy_gettext
from ticketflow.lib.state import AppContext

MAX_ID = 2**62


def path_id(request: Request, name: str = "event_id") -> int:
    """An id of the path (`{name:int}`), or 404 when it cannot be a row's."""
    value = request.path_params[name]
    if not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise not_found()
    return value


def csv_response(body: Any, filename: str) -> StreamingResponse:
    return StreamingResponse(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


class DashboardView(BaseView):
    name = lazy_gettext("Dashboard")
    icon = "fa-solid fa-chart-line"
    context: ClassVar[AppContext]
    """Set on the per-application subclass (see `mount.py`)."""

    def is_accessible(self, request: Request) -> bool:
        return is_admin(request)

    @expose("/dashboard", identity="dashboard")
    async def dashboard(self, request: Request) -> Response:
        _ = gettext_for(current_language())
        async with self.context.session_maker() as session:
            stats = StatsService(session)
            overview = await stats.overview()
            attention = await stats.attention()
        chart = self._chart_or_note(
            bar_chart(
                sales_bars(overview.sales_per_day, current_language()),
                title=_("Tickets sold per day (%(zone)s)") % {"zone": "UTC"},
                series=[_("tickets")],
            )
            if overview.sales_per_day
            else None,
            _("No tickets sold yet."),
        )
        return await self.templates.TemplateResponse(
            request,
            "ticketflow/dashboard.html",
            {
                "title": _("Dashboard"),
                "subtitle": _("Sales and check-ins"),
                "overview": overview,
                "attention": attention,
                "chart": chart,
            },
        )

    @expose("/dashboard/events/{event_id:int}", identity="event-stats")
    async def event_page(self, request: Request) -> Response:
        event_id = path_id(request)
        async with self.context.session_maker() as session:
            try:
                stats = await StatsService(session).event_stats(event_id)
            except EventNotFound as exc:
                raise http_refusal(404, N_("event not found")) from exc
        zone = stats.figures.timezone
        _ = gettext_for(current_language())
        sales = self._chart_or_note(
            bar_chart(
                sales_bars(stats.sales_per_day, current_language()),
                title=_("Tickets sold per day (%(zone)s)") % {"zone": zone},
                series=[_("tickets")],
            )
            if stats.sales_per_day
            else None,
            _("No tickets sold yet."),
        )
        door = self._chart_or_note(
            bar_chart(
                check_in_bars(stats.check_ins_per_15_min, current_language()),
                title=_("Scans per 15 minutes (%(zone)s)") % {"zone": zone},
                series=[_("admitted"), _("refused")],
            )
            if stats.check_ins_per_15_min
            else None,
            _("Nobody has been scanned yet."),
        )
        return await self.templates.TemplateResponse(
            request,
            "ticketflow/event.html",
            {
                "title": stats.figures.title,
                "subtitle": _("Event figures"),
                "stats": stats,
                "e": stats.figures,
                "sales_chart": sales,
                "door_chart": door,
            },
        )

    @expose("/dashboard/events/{event_id:int}/tickets.csv", identity="tickets-csv")
    async def tickets_csv(self, request: Request) -> Response:
        event_id = await self._existing_event(request)
        return csv_response(ticket_csv(self.context, event_id), f"event-{event_id}-tickets.csv")

    @expose("/dashboard/events/{event_id:int}/check-ins.csv", identity="check-ins-csv")
    async def check_ins_csv(self, request: Request) -> Response:
        event_id = await self._existing_event(request)
        return csv_response(check_in_csv(self.context, event_id), f"event-{event_id}-check-ins.csv")

    @expose("/dashboard/events/{event_id:int}/figures.csv", identity="figures-csv")
    async def figures_csv(self, request: Request) -> Response:
        event_id = await self._existing_event(request)
        return csv_response(
            iter([await figures_csv(self.context, event_id)]), f"event-{event_id}-figures.csv"
        )

    async def _existing_event(self, request: Request) -> int:
        event_id = path_id(request)
        async with self.context.session_maker() as session:
            if not await StatsService(session).event_exists(event_id):
                raise http_refusal(404, N_("event not found"))
        return event_id

    @staticmethod
    def _chart_or_note(chart: Markup | None, note: str) -> Markup:
        if chart is not None:
            return chart
        return Markup('<p class="text-secondary tf-empty">{}</p>').format(note)
