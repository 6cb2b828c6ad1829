"""What the back office's own pages (not SQLAdmin's record views) share: admins only, ids and
times read from the query string, the events offered in pickers."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from advanced_alchemy.filters import LimitOffset
from sqladmin import BaseView
from starlette.requests import Request
from starlette.responses import Response

from ticketflow.admin.auth import is_admin
from ticketflow.admin.forms import AdminInputError, http_refusal, not_found
from ticketflow.admin.views import parse_id
from ticketflow.db.models.events import Event
from ticketflow.domain.events.dates import in_supported_range
from ticketflow.domain.events.service import EventService
from ticketflow.lib.error_handlers import status_for
from ticketflow.lib.errors import DomainError, NotFoundError, refusal_text
from ticketflow.lib.i18n import N_, current_language
from ticketflow.lib.state import AppContext

EVENT_CHOICES = 500
"""Events offered in the pickers (by start time, the latest first)."""


def refused(exc: AdminInputError | DomainError) -> tuple[str, int]:
    """A refusal as the text above the form, in the admin's language, and the page's status: 400
    for the form's input, the API's status for a service's refusal (its "not found": this 404)."""
    if isinstance(exc, NotFoundError):
        raise not_found() from exc
    status = status_for(exc) if isinstance(exc, DomainError) else 400
    return refusal_text(exc, current_language()), status


async def event_choices(context: AppContext) -> list[Event]:
    """The latest `EVENT_CHOICES` events by start, the latest first: however many past events
    there are, the coming ones (tonight's) are among them."""
    async with context.session_maker() as session:
        page = await EventService(session).list_events(
            upcoming=None,
            query=None,
            limit_offset=LimitOffset(limit=EVENT_CHOICES, offset=0),
            latest_first=True,
        )
    return list(page.items)


def utc_input(text: str | None, name: str) -> dt.datetime | None:
    """A `datetime-local` value read as UTC (the back office shows UTC times); a date the
    database cannot hold (see `in_supported_range`) is refused as one that is not a date."""
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise http_refusal(400, N_("%(name)s: not a date and time"), name=name) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    if not in_supported_range(moment):
        raise http_refusal(400, N_("%(name)s: not a date and time"), name=name)
    return moment.astimezone(dt.UTC)


def query_id(request: Request, name: str) -> int | None:
    text = request.query_params.get(name)
    if not text:
        return None
    value = parse_id(text)
    if value is None:
        raise http_refusal(400, N_("%(name)s: not an id"), name=name)
    return value


class AdminPage(BaseView):
    """A page of the back office's own, for admins only (a subclass may let door staff in)."""

    context: ClassVar[AppContext]
    """Set on the per-application subclass (see `mount.py`)."""

    def is_accessible(self, request: Request) -> bool:
        return is_admin(request)

    async def page(
        self, request: Request, template: str, values: dict[str, Any], status_code: int = 200
    ) -> Response:
        return await self.templates.TemplateResponse(request, template, values, status_code=status_code)
