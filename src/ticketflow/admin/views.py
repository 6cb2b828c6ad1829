"""The back office record views (SQLAdmin).

Where a business rule applies the views do not write around the services: orders and check-ins
are read-only, tickets too but for a new code (`CodeReissue`, the same code as `POST
/tickets/{id}/reissue`); users are created through `AccountService.create_user` (the same code
as `POST /users`); events are created and changed through `EventService` (the same code as
`POST /events` and `PUT /events/{id}`). Password hashes and ticket codes never appear in
lists; hashes appear nowhere.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from enum import StrEnum
from typing import Any, ClassVar, cast

import msgspec
from markupsafe import Markup
from sqladmin import ModelView, action
from sqladmin._types import _UNSET
from sqladmin.filters import ForeignKeyFilter, StaticValuesFilter
from sqladmin.flash import Flash
from sqladmin.pagination import Pagination
from sqlalchemy import ColumnElement, Select, false, func, or_, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ticketflow.admin.auth import is_admin, signed_in
from ticketflow.admin.display import money_text, utc_minutes, utc_text
from ticketflow.admin.forms import (
    AdminInputError,
    EventForm,
    UserCreateForm,
    convert,
    event_form_data,
    event_values,
    http_refusal,
    not_found,
)
from ticketflow.admin.words import REFUSAL_WORDS, RESULT_WORDS, STATE_WORDS, OptionLabel
from ticketflow.db.base import utc_now
from ticketflow.db.models.checkins import CheckIn, InvalidReason, ScanResult
from ticketflow.db.models.events import Event, EventStatus
from ticketflow.db.models.gates import Gate, Scanner
from ticketflow.db.models.orders import Order, OrderStatus
from ticketflow.db.models.tickets import Ticket, TicketStatus
from ticketflow.db.models.users import Role, User
from ticketflow.domain.accounts.schemas import UserCreate
from ticketflow.domain.accounts.service import AccountService
from ticketflow.domain.events.schemas import EventCreate
from ticketflow.domain.events.service import EventService, escape_like
from ticketflow.domain.notifications.plugin import NotificationsPlugin
from ticketflow.domain.tickets.reissue import CodeReissue
from ticketflow.lib.errors import DomainError, refusal_text
from ticketflow.lib.i18n import N_, current_language, gettext_for, lazy_gettext
from ticketflow.lib.state import AppContext

ID_PATTERN = re.compile(r"[0-9]{1,18}")
"""A primary key as it may appear in a URL: digits that fit a BIGINT."""

COLUMN_LABELS: dict[Any, str] = {
    "id": lazy_gettext("ID"),
    "name": lazy_gettext("Name"),
    "email": lazy_gettext("E-mail"),
    "role": lazy_gettext("Role"),
    "title": lazy_gettext("Title"),
    "description": lazy_gettext("Description"),
    "venue": lazy_gettext("Venue"),
    "timezone": lazy_gettext("Time zone"),
    "capacity": lazy_gettext("Capacity"),
    "currency": lazy_gettext("Currency"),
    "status": lazy_gettext("Status"),
    "quantity": lazy_gettext("Quantity"),
    "code": lazy_gettext("Code"),
    "result": lazy_gettext("Result"),
    "reason": lazy_gettext("Reason"),
    "kind": lazy_gettext("Kind"),
    "recipient": lazy_gettext("Recipient"),
    "recipient_name": lazy_gettext("Recipient name"),
    "message_id": lazy_gettext("Message-ID"),
    "payload": lazy_gettext("Payload"),
    "attempts": lazy_gettext("Attempts"),
    "next_attempt_at": lazy_gettext("Next attempt"),
    "claimed_at": lazy_gettext("Claimed"),
    "sent_at": lazy_gettext("Sent"),
    "last_error": lazy_gettext("Last error"),
    "provider": lazy_gettext("Provider"),
    "refusal": lazy_gettext("Refusal"),
    "outcome": lazy_gettext("Outcome"),
    "event_id": lazy_gettext("Event"),
    "user_id": lazy_gettext("User"),
    "order_id": lazy_gettext("Order"),
    "ticket_id": lazy_gettext("Ticket"),
    "scanned_by_id": lazy_gettext("Scanned by"),
    "door_event_id": lazy_gettext("Door of event"),
    "gate_id": lazy_gettext("Gate"),
    "scanner_id": lazy_gettext("Scanner"),
    "client_id": lazy_gettext("Device scan id"),
    "offline_result": lazy_gettext("Device's answer offline"),
    "synced_at": lazy_gettext("Synced"),
    "reverts_id": lazy_gettext("Undoes scan"),
    "admin_id": lazy_gettext("Created by"),
    "created_at": lazy_gettext("Created"),
    "updated_at": lazy_gettext("Updated"),
    "starts_at": lazy_gettext("Starts"),
    "ends_at": lazy_gettext("Ends"),
    "sales_start_at": lazy_gettext("Sales open"),
    "sales_end_at": lazy_gettext("Sales close"),
    "tickets_sold": lazy_gettext("Sold"),
    "tickets_held": lazy_gettext("Held"),
    "max_per_order": lazy_gettext("Per order at most"),
    "price_cents": lazy_gettext("Price"),
    "amount_cents": lazy_gettext("Amount"),
    "refunded_cents": lazy_gettext("Refunded"),
    "paid_at": lazy_gettext("Paid"),
    "expires_at": lazy_gettext("Hold expires"),
    "used_at": lazy_gettext("Used"),
    "cancelled_at": lazy_gettext("Cancelled"),
    "scanned_at": lazy_gettext("Scanned"),
    "scanned_code": lazy_gettext("Scanned code"),
    "payment_provider": lazy_gettext("Payment provider"),
    "idempotency_key": lazy_gettext("Idempotency key"),
}
"""Column titles in the product's words (views may override some)."""

LABEL_COLUMNS: dict[str, tuple[Any, Any]] = {
    "user": (User.id, User.email),
    "event": (Event.id, Event.title),
    "gate": (Gate.id, Gate.name),
    "scanner": (Scanner.id, Scanner.name),
}
"""How a linked record is named in lists: users by e-mail, events by title, door things by name."""

OTHER_PAGES: dict[str, tuple[str, str] | None] = {
    "gate": ("admin:view-door-gate", "gate_id"),
    "scanner": None,
}
"""Linked records without a record view: the page showing one (route, path parameter), or none."""


@asynccontextmanager
async def refusals_shown() -> AsyncIterator[None]:
    """A service's refusal inside a record view's write, as SQLAdmin shows it above the form
    (`str()` of what the write raises): in the admin's language."""
    try:
        yield
    except DomainError as exc:
        raise AdminInputError(refusal_text(exc, current_language())) from exc


def parse_id(text: str | None) -> int | None:
    if text is None or not ID_PATTERN.fullmatch(text):
        return None
    value = int(text)
    return value if value >= 1 else None


MAX_SELECTED = 100
"""Records one action (retry, new code) takes at once."""


def same_origin(request: Request) -> bool:
    """True for a navigation from a back office page (SQLAdmin's actions are GET links)."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site == "same-origin"
    referer = request.headers.get("referer", "")
    return referer.startswith(str(request.base_url))


def selected_ids(request: Request) -> list[int]:
    """The ids an action was asked for (`pks`); 400 for none, too many or a malformed one."""
    ids = [parse_id(part) for part in request.query_params.get("pks", "").split(",") if part]
    if not ids or None in ids or len(ids) > MAX_SELECTED:
        raise http_refusal(400, N_("select between 1 and %(most)s records"), most=MAX_SELECTED)
    return [i for i in ids if i is not None]


def contains(column: Any, term: str) -> ColumnElement[bool]:
    """Case-insensitive substring match with LIKE wildcards in `term` taken literally."""
    return func.lower(column).like(f"%{escape_like(term.strip().lower())}%", escape="\\")


def choice_filter(
    column: Any, values: type[StrEnum], title: str, words: dict[str, str] = STATE_WORDS
) -> StaticValuesFilter:
    """A drop-down of the values of a state column, each named by its word (see `words.py`)."""
    options = [(v.value, cast(str, OptionLabel(words.get(v.value, v.value)))) for v in values]
    return StaticValuesFilter(column, options, title=title)


def money_formatter(obj: Any, prop: str) -> str:
    """An amount in cents shown in the record's own currency."""
    return money_text(getattr(obj, prop), obj.currency)


def link_formatter(name: str, identity: str) -> Callable[[Any, str, Request], Markup]:
    """Show the foreign key `name` as a link to the record, named by e-mail or title if known."""

    def formatter(obj: Any, prop: str, request: Request) -> Markup:
        value = getattr(obj, name, None)
        if value is None:
            return Markup("")
        labels: dict[tuple[str, int], str] = getattr(request.state, "labels", {})
        label = labels.get((identity, value), f"#{value}")
        if identity not in OTHER_PAGES:
            url = request.url_for("admin:details", identity=identity, pk=value)
        elif (page := OTHER_PAGES[identity]) is not None:
            url = request.url_for(page[0], **{page[1]: value})
        else:
            return Markup("{}").format(label)
        return Markup('<a href="{}">{}</a>').format(str(url), label)

    return formatter


class SafeForeignKeyFilter(ForeignKeyFilter):
    """A foreign-key filter that treats a malformed id as matching nothing (never a 500)."""

    async def get_filtered_query(self, query: Select[Any], value: Any, model: Any) -> Select[Any]:
        if value not in (None, "", "__all") and parse_id(str(value)) is None:
            return query.where(false())
        return await super().get_filtered_query(query, value, model)


class DoorFilter(SafeForeignKeyFilter):
    """A gate or scanner filter: each choice named "name (event title)", as names repeat across events."""

    def __init__(self, foreign_key: Any, model: type[Gate] | type[Scanner], title: str) -> None:
        super().__init__(foreign_key, model.name, foreign_model=model, title=title)
        self.model = model

    async def lookups(
        self, request: Request, model: Any, run_query: Callable[..., Any]
    ) -> list[tuple[str, str]]:
        _ = gettext_for(current_language())
        found = await run_query(
            select(self.model.id, self.model.name, Event.title)
            .join(Event, Event.id == self.model.event_id)
            .order_by(Event.title, self.model.name, self.model.id)
        )
        return [("__all", _("All")), *((str(id_), f"{name} ({title})") for id_, name, title in found)]


class PeriodFilter:
    """Filter a timestamp column by a named period ("last 7 days", "upcoming", ...)."""

    has_operator = False
    default_value: Any = _UNSET
    template = "sqladmin/filters/lookup_filter.html"
    PERIODS: ClassVar[dict[str, tuple[str, dt.timedelta | None, bool]]] = {
        # key: (label, how far back, or None for "from now on"; True = future)
        "day": (N_("Last 24 hours"), dt.timedelta(days=1), False),
        "week": (N_("Last 7 days"), dt.timedelta(days=7), False),
        "month": (N_("Last 30 days"), dt.timedelta(days=30), False),
        "past": (N_("Past"), None, False),
        "upcoming": (N_("Upcoming"), None, True),
    }

    def __init__(self, column: Any, title: str, periods: Sequence[str] = ("day", "week", "month")) -> None:
        self.column = column
        self.title = title
        self.parameter_name = column.key
        self.periods = [p for p in periods if p in self.PERIODS]

    async def lookups(
        self, request: Request, model: Any, run_query: Callable[..., Any]
    ) -> list[tuple[str, str]]:
        _ = gettext_for(current_language())
        return [("__all", _("All")), *((key, _(self.PERIODS[key][0])) for key in self.periods)]

    async def get_filtered_query(self, query: Select[Any], value: Any, model: Any) -> Select[Any]:
        if value not in self.periods:
            return query
        _, span, future = self.PERIODS[value]
        now = utc_now()
        if future:
            return query.where(self.column > now)
        if span is None:
            return query.where(self.column <= now)
        return query.where(self.column > now - span, self.column <= now)


class RecordView(ModelView):
    """Base of every view: read-only unless a view says otherwise; ids in URLs checked;
    linked records shown as links named by e-mail or title (loaded once a page)."""

    context: ClassVar[AppContext]
    """Set on the per-application subclass (see `mount.py`), as is:"""
    notifications: ClassVar[NotificationsPlugin]
    links: ClassVar[dict[str, str]] = {}
    """Foreign-key column -> identity of the view it points to."""

    can_create = False
    can_edit = False
    can_delete = False
    can_export = False
    column_default_sort: ClassVar[str | tuple[Any, bool] | list[Any]] = ("id", True)
    """Newest first."""
    page_size = 25
    page_size_options = [25, 50, 100]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        formatters: dict[Any, Any] = {
            name: link_formatter(name, identity) for name, identity in cls.links.items()
        }
        cls.column_formatters = {**formatters, **cls.column_formatters}
        # Details pages show values as the list does (money with its currency, links, badges).
        cls.column_formatters_detail = {
            **formatters,
            **cls.column_formatters,
            **cls.column_formatters_detail,
        }
        cls.column_type_formatters = {**cls.column_type_formatters, dt.datetime: utc_minutes}
        cls.column_type_formatters_detail = {**cls.column_type_formatters_detail, dt.datetime: utc_text}
        cls.column_labels = {**COLUMN_LABELS, **cls.column_labels}

    def is_accessible(self, request: Request) -> bool:
        """Admins only (door staff sign in for the door desk alone)."""
        return is_admin(request)

    def search_placeholder(self) -> str:
        """The searched columns' labels, in the reader's language."""
        return ", ".join(str(self._column_labels.get(field, field)) for field in self._search_fields)

    # Ids in URLs: a malformed or out-of-range id is a 404, not a database error.
    def _stmt_by_identifier(self, identifier: str) -> Select[Any]:
        if parse_id(identifier) is None:
            raise not_found()
        return super()._stmt_by_identifier(identifier)

    async def list(self, request: Request) -> Pagination:
        pagination = await super().list(request)
        await self._load_labels(request, pagination.rows)
        return pagination

    async def get_object_for_details(self, request: Request) -> Any:
        obj = await super().get_object_for_details(request)
        if obj is not None:
            await self._load_labels(request, [obj])
        return obj

    async def _load_labels(self, request: Request, rows: Sequence[Any]) -> None:
        wanted: dict[str, set[int]] = defaultdict(set)
        for row in rows:
            for name, identity in self.links.items():
                value = getattr(row, name, None)
                if value is not None and identity in LABEL_COLUMNS:
                    wanted[identity].add(value)
        labels: dict[tuple[str, int], str] = {}
        for identity, ids in wanted.items():
            id_column, label_column = LABEL_COLUMNS[identity]
            for row_id, label in await self._run_arbitrary_query(
                select(id_column, label_column).where(id_column.in_(ids))
            ):
                labels[(identity, row_id)] = label
        request.state.labels = labels


class SearchByRelatedView(RecordView):
    """A search box over e-mails, titles and ids of linked records (see `search_conditions`)."""

    search_hint: ClassVar[str] = ""

    def search_placeholder(self) -> str:
        return str(self.search_hint)

    def search_query(self, stmt: Select[Any], term: str) -> Select[Any]:
        term = term.strip()[:200]
        if not term:
            return stmt
        return stmt.where(or_(false(), *self.search_conditions(term)))

    def search_conditions(self, term: str) -> list[ColumnElement[bool]]:
        raise NotImplementedError


def users_matching(term: str) -> Select[Any]:
    return select(User.id).where(or_(contains(User.email, term), contains(User.name, term)))


def events_matching(term: str) -> Select[Any]:
    return select(Event.id).where(contains(Event.title, term))


def id_equals(column: Any, term: str) -> list[ColumnElement[bool]]:
    value = parse_id(term.lstrip("#"))
    return [column == value] if value is not None else []


def event_filter(column: Any) -> SafeForeignKeyFilter:
    return SafeForeignKeyFilter(column, Event.title, foreign_model=Event, title=lazy_gettext("Event"))


class UserView(RecordView, model=User):
    name = lazy_gettext("User")
    name_plural = lazy_gettext("Users")
    icon = "fa-solid fa-users"
    column_list = [User.id, User.name, User.email, User.role, User.created_at]
    column_details_list = [User.id, User.name, User.email, User.role, User.created_at, User.updated_at]
    column_searchable_list = [User.name, User.email]
    column_sortable_list = [User.id, User.name, User.email, User.role, User.created_at]
    column_filters = [choice_filter(User.role, Role, lazy_gettext("Role"))]
    can_create = True
    form = UserCreateForm

    async def insert_model(self, request: Request, data: dict[str, Any]) -> Any:
        """Through `AccountService.create_user`, as `POST /users` does (argon2 hash, e-mail rules)."""
        account = convert(
            {name: data.get(name) for name in ("name", "email", "password", "role")}, UserCreate
        )
        async with refusals_shown(), self.context.session_maker() as session:
            return await AccountService(session, self.context.passwords).create_user(
                name=account.name, email=account.email, password=account.password, role=account.role
            )


class EventView(RecordView, model=Event):
    name = lazy_gettext("Event")
    name_plural = lazy_gettext("Events")
    icon = "fa-solid fa-calendar"
    column_list = [
        Event.id,
        Event.title,
        Event.venue,
        Event.starts_at,
        Event.status,
        Event.capacity,
        Event.tickets_sold,
        Event.tickets_held,
        Event.price_cents,
        Event.currency,
    ]
    column_searchable_list = [Event.title, Event.venue]
    column_sortable_list = [
        Event.id,
        Event.title,
        Event.starts_at,
        Event.status,
        Event.capacity,
        Event.tickets_sold,
        Event.created_at,
    ]
    column_default_sort = (Event.starts_at, True)
    column_filters = [
        choice_filter(Event.status, EventStatus, lazy_gettext("Status")),
        PeriodFilter(Event.starts_at, lazy_gettext("Starts"), ["upcoming", "past", "week", "month"]),
    ]
    links = {"admin_id": "user"}
    column_formatters = {Event.price_cents: money_formatter}
    can_create = True
    can_edit = True
    form = EventForm

    async def insert_model(self, request: Request, data: dict[str, Any]) -> Any:
        """Through `EventService.publish`, as `POST /events` does."""
        event = convert(event_values(data), EventCreate)
        async with refusals_shown(), self.context.session_maker() as session:
            return await EventService(session).publish(
                msgspec.structs.asdict(event), admin_id=request.state.admin.id
            )

    async def update_model(self, request: Request, pk: str, data: dict[str, Any]) -> Any:
        """Through `EventService.change`, as `PUT /events/{id}` does (capacity never below sold)."""
        event_id = parse_id(pk)
        if event_id is None:
            raise not_found()
        changes = msgspec.structs.asdict(convert(event_values(data), EventCreate))
        async with refusals_shown(), self.context.session_maker() as session:
            service = EventService(session)
            current = await service.get_event(event_id)
            for name, value in changes.items():
                before = getattr(current, name)
                # The form shows whole seconds: an unchanged time must not count as a change.
                if (
                    isinstance(value, dt.datetime)
                    and before is not None
                    and value == before.replace(microsecond=0)
                ):
                    changes[name] = before
            event, _ = await service.change(event_id, changes, notifier=self.notifications.notifier)
            return event

    async def get_form_data_for_edit(self, obj: Any) -> dict[str, Any]:
        return event_form_data(obj)

    async def check_can_edit(self, request: Request, model: Any) -> bool:
        """A cancelled event is history: the service refuses changes, the list hides the button.
        SQLAdmin asks before it looks the row up for the form: no such event is a 404."""
        if model is None:
            raise not_found()
        return bool(model.status != EventStatus.CANCELLED)


class OrderView(SearchByRelatedView, model=Order):
    name = lazy_gettext("Order")
    name_plural = lazy_gettext("Orders")
    icon = "fa-solid fa-receipt"
    column_list = [
        Order.id,
        Order.event_id,
        Order.user_id,
        Order.status,
        Order.quantity,
        Order.amount_cents,
        Order.refunded_cents,
        Order.paid_at,
        Order.created_at,
    ]
    column_details_exclude_list = [Order.request_fingerprint]
    column_searchable_list = [Order.id]
    search_hint = lazy_gettext("buyer e-mail or name, event title, order id")
    column_sortable_list = [Order.id, Order.created_at, Order.amount_cents, Order.status, Order.paid_at]
    column_filters = [
        choice_filter(Order.status, OrderStatus, lazy_gettext("Status")),
        event_filter(Order.event_id),
        PeriodFilter(Order.created_at, lazy_gettext("Ordered")),
    ]
    links = {"event_id": "event", "user_id": "user"}
    column_labels = {Order.user_id: lazy_gettext("Buyer")}
    column_formatters = {Order.amount_cents: money_formatter, Order.refunded_cents: money_formatter}

    def search_conditions(self, term: str) -> list[ColumnElement[bool]]:
        return [
            Order.user_id.in_(users_matching(term)),
            Order.event_id.in_(events_matching(term)),
            *id_equals(Order.id, term),
        ]


class TicketView(SearchByRelatedView, model=Ticket):
    name = lazy_gettext("Ticket")
    name_plural = lazy_gettext("Tickets")
    icon = "fa-solid fa-ticket"
    column_list = [
        Ticket.id,
        Ticket.event_id,
        Ticket.user_id,
        Ticket.attendee_name,
        Ticket.status,
        Ticket.order_id,
        Ticket.used_at,
        Ticket.created_at,
        Ticket.cancelled_at,
    ]
    column_searchable_list = [Ticket.id]
    search_hint = lazy_gettext("holder e-mail or name, attendee name, event title, ticket id, exact code")
    column_sortable_list = [Ticket.id, Ticket.status, Ticket.created_at, Ticket.used_at]
    column_filters = [
        choice_filter(Ticket.status, TicketStatus, lazy_gettext("Status")),
        event_filter(Ticket.event_id),
        PeriodFilter(Ticket.created_at, lazy_gettext("Bought")),
    ]
    links = {"event_id": "event", "user_id": "user", "order_id": "order"}
    column_labels = {
        Ticket.user_id: lazy_gettext("Holder"),
        Ticket.attendee_name: lazy_gettext("Attendee"),
        Ticket.created_at: lazy_gettext("Bought"),
    }

    def search_conditions(self, term: str) -> list[ColumnElement[bool]]:
        return [
            Ticket.user_id.in_(users_matching(term)),
            contains(Ticket.attendee_name, term),
            Ticket.event_id.in_(events_matching(term)),
            Ticket.code == term,
            *id_equals(Ticket.id, term),
        ]

    @action(
        name="reissue",
        label=lazy_gettext("New code"),
        confirmation_message=lazy_gettext(
            "Give the selected tickets new codes? Their current codes stop admitting anyone at once;"
            " each holder gets the new code by e-mail."
        ),
        add_in_detail=True,
        add_in_list=True,
    )
    async def reissue(self, request: Request) -> Response:
        """Through `CodeReissue.reissue_ticket` (the same code as `POST /tickets/{id}/reissue`):
        only active tickets; each one its own transaction."""
        if not same_origin(request):
            raise http_refusal(403, N_("use the button of a back office page"))
        ticket_ids = selected_ids(request)
        done, refused = 0, []
        async with self.context.session_maker() as session:
            codes = CodeReissue(session, self.notifications.notifier, self.context.ticket_signer)
            for ticket_id in ticket_ids:
                try:
                    await codes.reissue_ticket(ticket_id, signed_in(request))
                    done += 1
                except DomainError as exc:
                    refused.append(f"#{ticket_id}: {refusal_text(exc, current_language())}")
        _ = gettext_for(current_language())
        if done:
            Flash.success(
                request,
                _("%(count)s ticket(s) got a new code; the holders are e-mailed.") % {"count": done},
            )
        if refused:
            Flash.error(request, _("No new code for %(tickets)s") % {"tickets": "; ".join(refused)})
        if len(ticket_ids) == 1:
            back = request.url_for("admin:details", identity=self.identity, pk=ticket_ids[0])
        else:
            back = request.url_for("admin:list", identity=self.identity)
        return RedirectResponse(back, status_code=302)


class CheckInView(SearchByRelatedView, model=CheckIn):
    name = lazy_gettext("Check-in")
    name_plural = lazy_gettext("Check-ins")
    icon = "fa-solid fa-door-open"
    column_list = [
        CheckIn.id,
        CheckIn.scanned_at,
        CheckIn.result,
        CheckIn.reason,
        CheckIn.event_id,
        CheckIn.ticket_id,
        CheckIn.gate_id,
        CheckIn.scanner_id,
        CheckIn.scanned_by_id,
        CheckIn.offline_result,
        CheckIn.synced_at,
    ]
    column_details_list = [
        CheckIn.id,
        CheckIn.scanned_at,
        CheckIn.result,
        CheckIn.reason,
        CheckIn.event_id,
        CheckIn.door_event_id,
        CheckIn.ticket_id,
        CheckIn.scanned_code,
        CheckIn.gate_id,
        CheckIn.scanner_id,
        CheckIn.scanned_by_id,
        CheckIn.reverts_id,
        CheckIn.client_id,
        CheckIn.offline_result,
        CheckIn.synced_at,
    ]
    column_searchable_list = [CheckIn.id]
    search_hint = lazy_gettext("event title, gate or scanner name, staff e-mail or name, ticket id")
    column_sortable_list = [CheckIn.id, CheckIn.scanned_at, CheckIn.result, CheckIn.synced_at]
    column_filters = [
        choice_filter(CheckIn.result, ScanResult, lazy_gettext("Result"), RESULT_WORDS),
        choice_filter(CheckIn.reason, InvalidReason, lazy_gettext("Reason"), REFUSAL_WORDS),
        event_filter(CheckIn.event_id),
        DoorFilter(CheckIn.gate_id, Gate, lazy_gettext("Gate")),
        DoorFilter(CheckIn.scanner_id, Scanner, lazy_gettext("Scanner")),
        PeriodFilter(CheckIn.scanned_at, lazy_gettext("Scanned")),
    ]
    links = {
        "event_id": "event",
        "ticket_id": "ticket",
        "gate_id": "gate",
        "scanner_id": "scanner",
        "scanned_by_id": "user",
        "reverts_id": "check-in",
    }

    def search_conditions(self, term: str) -> list[ColumnElement[bool]]:
        return [
            CheckIn.event_id.in_(events_matching(term)),
            CheckIn.gate_id.in_(select(Gate.id).where(contains(Gate.name, term))),
            CheckIn.scanner_id.in_(select(Scanner.id).where(contains(Scanner.name, term))),
            CheckIn.scanned_by_id.in_(users_matching(term)),
            *id_equals(CheckIn.ticket_id, term),
        ]


RECORD_VIEWS: tuple[type[RecordView], ...] = (UserView, EventView, OrderView, TicketView, CheckInView)
