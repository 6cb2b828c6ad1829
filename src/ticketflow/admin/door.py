"""The door in the back office: gates, scanner devices, live counters, the scan log and its undo,
and the door desk.

Every change goes through the door's services (`domain/checkin/door.py`), the code behind
`POST /events/{id}/gates`, `PATCH /gates/{id}`, `POST /events/{id}/scanners`,
`POST /scanners/{id}/revoke` and `POST /check-ins/{id}/revert`; forms are checked by the same
msgspec schemas as those bodies. Unsafe requests pass the back office's same-origin check
(`same_origin.py`, applied to every request by the mount).

A scanner's pairing code is shown once, on the page that answers its creation (never stored in
clear, never in a URL the browser keeps: the answer is a POST's, marked `no-store`).

Door staff may sign in to the back office for the desk page only; every other page is an
admin's.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Sequence
from typing import Any, ClassVar
from urllib.parse import urlencode

from advanced_alchemy.filters import LimitOffset
from sqladmin import expose
from sqladmin.flash import Flash
from sqlalchemy import select
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ticketflow.admin.auth import is_admin, signed_in
from ticketflow.admin.dashboard import path_id
from ticketflow.admin.forms import (
    AdminInputError,
    GateForm,
    ScannerForm,
    convert,
    form_errors,
    http_refusal,
    not_found,
)
from ticketflow.admin.pages import (
    AdminPage,
    event_choices,
    query_id,
    refused,
    utc_input,
)
from ticketflow.admin.views import parse_id
from ticketflow.admin.words import REFUSAL_WORDS, RESULT_WORDS
from ticketflow.db.base import utc_now
from ticketflow.db.models.checkins import CheckIn, ScanResult
from ticketflow.db.models.events import Event
from ticketflow.db.models.gates import Gate, Scanner
from ticketflow.db.models.ticket_types import TicketType
from ticketflow.db.models.tickets import Ticket, attendee_or_holder
from ticketflow.db.models.users import User
from ticketflow.domain.checkin.door import LOOKUP_MIN, GateService, ScanLogService, ScannerService, searchable
from ticketflow.domain.checkin.door_schemas import GateCreate, ScannerCreate
from ticketflow.domain.checkin.offline import duplicate_admissions
from ticketflow.domain.checkin.plugin import CheckInPlugin
from ticketflow.domain.checkin.service import CheckInService
from ticketflow.domain.events.ticket_types import TicketTypeService
from ticketflow.lib.errors import DomainError, NotFoundError, refusal_text
from ticketflow.lib.i18n import N_, current_language, gettext_for, lazy_gettext
from ticketflow.lib.qr import qr_svg

SCAN_LOG_PAGE = 50


def pairing_qr(url: str) -> str:
    """The pairing link as a QR code a phone's camera opens (an SVG data URL)."""
    return "data:image/svg+xml;base64," + base64.b64encode(qr_svg(url)).decode()


class DoorPage(AdminPage):
    category = lazy_gettext("Door")
    category_icon = "fa-solid fa-door-open"
    checkin: ClassVar[CheckInPlugin]
    """Set on the per-application subclass (see `mount.py`): its `gate_rules` are the process's."""


class GatesView(DoorPage):
    """Gates and scanner devices of an event, with the gates' live counters."""

    name = lazy_gettext("Gates and scanners")
    icon = "fa-solid fa-door-closed"

    @expose("/door", identity="door")
    async def index(self, request: Request) -> Response:
        _ = gettext_for(current_language())
        events = await event_choices(self.context)
        return await self.page(
            request,
            "ticketflow/door_index.html",
            {"title": _("Gates and scanners"), "subtitle": _("Door"), "events": events},
        )

    @expose("/door/events/{event_id:int}", identity="door-event")
    async def event_door(self, request: Request) -> Response:
        return await self._event_page(request, path_id(request, "event_id"))

    @expose("/door/events/{event_id:int}/gates", methods=["POST"], identity="door-gate-create")
    async def create_gate(self, request: Request) -> Response:
        event_id = path_id(request, "event_id")
        types = await self._types(event_id)
        form = GateForm(await request.form(), type_choices=types)
        try:
            if not form.validate():
                raise AdminInputError(form_errors(form))
            gate = convert(form.values(), GateCreate)
            async with self.context.session_maker() as session:
                await GateService(session).create_gate(
                    event_id,
                    name=gate.name,
                    ticket_type_ids=gate.ticket_type_ids,
                    allow_reentry=gate.allow_reentry,
                )
        except (AdminInputError, DomainError) as exc:
            error, status_code = refused(exc)
            return await self._event_page(
                request, event_id, gate_form=form, error=error, status_code=status_code
            )
        _ = gettext_for(current_language())
        Flash.success(request, _("Gate %(name)s added.") % {"name": gate.name})
        return self._back_to_event(request, event_id)

    @expose("/door/gates/{gate_id:int}", methods=["GET", "POST"], identity="door-gate")
    async def edit_gate(self, request: Request) -> Response:
        gate_id = path_id(request, "gate_id")
        async with self.context.session_maker() as session:
            gate = await session.get(Gate, gate_id)
            if gate is None:
                raise not_found()
            event = await session.get(Event, gate.event_id)
        if event is None:  # pragma: no cover - the foreign key holds it
            raise not_found()
        types = await self._types(event.id)
        error = None
        status_code = 200
        if request.method == "POST":
            form = GateForm(await request.form(), type_choices=types)
            try:
                if not form.validate():
                    raise AdminInputError(form_errors(form))
                changes = convert(form.values(), GateCreate)
                async with self.context.session_maker() as session:
                    await GateService(session).update_gate(
                        gate_id,
                        {
                            "name": changes.name,
                            "ticket_type_ids": changes.ticket_type_ids,
                            "allow_reentry": changes.allow_reentry,
                        },
                    )
            except (AdminInputError, DomainError) as exc:
                error, status_code = refused(exc)
            else:
                _ = gettext_for(current_language())
                Flash.success(request, _("Gate %(name)s saved.") % {"name": changes.name})
                return self._back_to_event(request, event.id)
        else:
            form = GateForm(type_choices=types, obj=gate)
        _ = gettext_for(current_language())
        return await self.page(
            request,
            "ticketflow/gate_form.html",
            {
                "title": gate.name,
                "subtitle": event.title,
                "event": event,
                "gate": gate,
                "form": form,
                "error": error,
            },
            status_code,
        )

    @expose("/door/events/{event_id:int}/scanners", methods=["POST"], identity="door-scanner-create")
    async def create_scanner(self, request: Request) -> Response:
        event_id = path_id(request, "event_id")
        gates = await self._gates(event_id)
        form = ScannerForm(await request.form(), gate_choices=gates)
        try:
            if not form.validate():
                raise AdminInputError(form_errors(form))
            wanted = convert(form.values(utc_now()), ScannerCreate)
            async with self.context.session_maker() as session:
                scanner, code = await ScannerService(session).create_scanner(
                    event_id, name=wanted.name, gate_id=wanted.gate_id, expires_at=wanted.expires_at
                )
        except (AdminInputError, DomainError) as exc:
            error, status_code = refused(exc)
            return await self._event_page(
                request, event_id, scanner_form=form, error=error, status_code=status_code
            )
        url = f"{self.context.settings.public_base_url.rstrip('/')}/scan#code={code}"
        _ = gettext_for(current_language())
        response = await self.page(
            request,
            "ticketflow/scanner_created.html",
            {
                "title": _("Scanner %(name)s") % {"name": scanner.name},
                "subtitle": _("Pair the device now: the code is shown only once."),
                "scanner": scanner,
                "event_id": event_id,
                "pairing_url": url,
                "pairing_code": code,
                "pairing_qr": pairing_qr(url),
                "gate": next((g for g in gates if g.id == scanner.gate_id), None),
            },
        )
        response.headers["Cache-Control"] = "no-store"
        return response

    @expose("/door/scanners/{scanner_id:int}/revoke", methods=["POST"], identity="door-scanner-revoke")
    async def revoke_scanner(self, request: Request) -> Response:
        """Through `ScannerService.revoke`: the device's next request is refused."""
        scanner_id = path_id(request, "scanner_id")
        async with self.context.session_maker() as session:
            try:
                scanner = await ScannerService(session).revoke(scanner_id)
            except NotFoundError as exc:
                raise not_found() from exc
        _ = gettext_for(current_language())
        Flash.success(request, _("Scanner %(name)s revoked.") % {"name": scanner.name})
        return self._back_to_event(request, scanner.event_id)

    async def _event_page(
        self,
        request: Request,
        event_id: int,
        *,
        gate_form: GateForm | None = None,
        scanner_form: ScannerForm | None = None,
        error: str | None = None,
        status_code: int = 200,
    ) -> Response:
        async with self.context.session_maker() as session:
            event = await session.get(Event, event_id)
            if event is None:
                raise not_found()
            gate_service = GateService(session)
            gates = await gate_service.list_gates(event_id)
            counters = await gate_service.counters(gates)
            refusals = await gate_service.refusals(event_id)
            scanner_service = ScannerService(session)
            scanners = await scanner_service.list_scanners(event_id)
            counts = await scanner_service.scan_counts([scanner.id for scanner in scanners])
            types = await TicketTypeService(session).types_of(event_id, everything=True)
        _ = gettext_for(current_language())
        now = utc_now()
        return await self.page(
            request,
            "ticketflow/door_event.html",
            {
                "title": event.title,
                "subtitle": _("Gates and scanners"),
                "event": event,
                "gates": gates,
                "counters": counters,
                "refusals": refusals,
                "refusal_words": {key: _(word) for key, word in REFUSAL_WORDS.items()},
                "type_names": {t.id: t.name for t in types},
                "scanners": [
                    (scanner, counts.get(scanner.id, (0, 0)), scanner_state(scanner, now))
                    for scanner in scanners
                ],
                "gate_names": {gate.id: gate.name for gate in gates},
                "gate_form": gate_form or GateForm(type_choices=types),
                "scanner_form": scanner_form or ScannerForm(gate_choices=gates),
                "error": error,
            },
            status_code,
        )

    async def _types(self, event_id: int) -> list[TicketType]:
        async with self.context.session_maker() as session:
            if await session.get(Event, event_id) is None:
                raise not_found()
            return await TicketTypeService(session).types_of(event_id, everything=True)

    async def _gates(self, event_id: int) -> Sequence[Gate]:
        async with self.context.session_maker() as session:
            try:
                return await GateService(session).list_gates(event_id)
            except NotFoundError as exc:
                raise not_found() from exc

    @staticmethod
    def _back_to_event(request: Request, event_id: int) -> Response:
        return RedirectResponse(request.url_for("admin:view-door-event", event_id=event_id), status_code=303)


def scanner_state(scanner: Scanner, now: dt.datetime) -> str:
    if scanner.revoked_at is not None:
        return "revoked"
    if scanner.expires_at <= now:
        return "expired"
    if scanner.paired_at is None:
        return "not paired" if scanner.pairing_expires_at > now else "pairing expired"
    return "active"


class ScanLogView(DoorPage):
    """Every scan, filtered by event, gate, scanner, result and time; the undo of an admission."""

    name = lazy_gettext("Scan log")
    icon = "fa-solid fa-list-check"

    @expose("/door/scans", identity="door-scans")
    async def scans(self, request: Request) -> Response:
        filters: dict[str, int | str | None] = {
            "event_id": query_id(request, "event_id"),
            "gate_id": query_id(request, "gate_id"),
            "scanner_id": query_id(request, "scanner_id"),
            "ticket_id": query_id(request, "ticket_id"),
        }
        result = request.query_params.get("result") or None
        if result is not None and result not in {r.value for r in ScanResult}:
            raise http_refusal(400, N_("result: not a scan result"))
        filters["result"] = result
        scanned_from = utc_input(request.query_params.get("from"), "from")
        scanned_until = utc_input(request.query_params.get("until"), "until")
        page = page_number(request)
        event_id = query_id(request, "event_id")
        async with self.context.session_maker() as session:
            found = await ScanLogService(session).list_check_ins(
                filters,
                limit_offset=LimitOffset(limit=SCAN_LOG_PAGE, offset=(page - 1) * SCAN_LOG_PAGE),
                scanned_from=scanned_from,
                scanned_until=scanned_until,
            )
            gates: Sequence[Gate] = []
            scanners: Sequence[Scanner] = []
            if event_id is not None and await session.get(Event, event_id) is not None:
                gates = await GateService(session).list_gates(event_id)
                scanners = await ScannerService(session).list_scanners(event_id)
            names = await scan_names(session, found.items)
            undone = set(
                await session.scalars(
                    select(CheckIn.reverts_id).where(
                        CheckIn.reverts_id.in_(
                            [row.id for row in found.items if row.result == ScanResult.VALID]
                        )
                    )
                )
            )
        _ = gettext_for(current_language())
        query = {k: v for k, v in request.query_params.items() if k != "page"}
        return await self.page(
            request,
            "ticketflow/scan_log.html",
            {
                "title": _("Scan log"),
                "subtitle": _("Every scan at the door, newest first"),
                "rows": found.items,
                "total": found.total,
                "page": page,
                "pages": max(1, -(-found.total // SCAN_LOG_PAGE)),
                "query": query,
                "events": await event_choices(self.context),
                "gates": gates,
                "scanners": scanners,
                "names": names,
                "undone": undone,
                "result_words": {key: _(word) for key, word in RESULT_WORDS.items()},
                "refusal_words": {key: _(word) for key, word in REFUSAL_WORDS.items()},
                "chosen": {
                    **filters,
                    "from": request.query_params.get("from", ""),
                    "until": request.query_params.get("until", ""),
                },
            },
        )

    @expose("/door/check-ins/{check_in_id:int}/revert", methods=["POST"], identity="door-revert")
    async def revert(self, request: Request) -> Response:
        """Through `ScanLogService.revert`, as `POST /check-ins/{id}/revert`: recorded as its own row."""
        check_in_id = path_id(request, "check_in_id")
        _ = gettext_for(current_language())
        async with self.context.session_maker() as session:
            try:
                revert = await ScanLogService(session).revert(check_in_id, admin_id=signed_in(request).id)
            except NotFoundError as exc:
                raise not_found() from exc
            except DomainError as exc:
                raise HTTPException(status_code=409, detail=refusal_text(exc, current_language())) from exc
        Flash.success(
            request,
            _("Admission #%(id)s undone: ticket #%(ticket)s may enter again.")
            % {"id": check_in_id, "ticket": revert.ticket_id},
        )
        target = request.url_for("admin:view-door-scans")
        back = await request.form()
        return RedirectResponse(f"{target}?{back_query(back)}", status_code=303)


async def scan_names(session: Any, rows: Sequence[Any]) -> dict[str, dict[int, str]]:
    """Names of the gates, scanners, staff and events scans point to (by `gate_id`, ...)."""

    def ids(name: str) -> set[int]:
        return {value for row in rows if (value := getattr(row, name, None))}

    wanted: dict[str, tuple[Any, Any, set[int]]] = {
        "gate": (Gate, Gate.name, ids("gate_id")),
        "scanner": (Scanner, Scanner.name, ids("scanner_id")),
        "user": (User, User.email, ids("scanned_by_id")),
        "event": (Event, Event.title, ids("event_id")),
    }
    names: dict[str, dict[int, str]] = {}
    for key, (model, label, wanted_ids) in wanted.items():
        names[key] = {}
        if wanted_ids:
            for row_id, text in await session.execute(
                select(model.id, label).where(model.id.in_(wanted_ids))
            ):
                names[key][row_id] = text
    return names


SCAN_LOG_FILTERS = ("event_id", "gate_id", "scanner_id", "ticket_id", "result", "from", "until", "page")


def back_query(form: FormData, keep: Sequence[str] = SCAN_LOG_FILTERS) -> str:
    """The query a form carried back to its page (only the names in `keep`, short texts)."""
    return urlencode({k: v for k in keep if isinstance(v := form.get(k), str) and v and len(v) <= 200})


class DeskView(DoorPage):
    """The door desk: an event's tickets by holder name, e-mail or order number (staff and admins)."""

    name = lazy_gettext("Door desk")
    icon = "fa-solid fa-magnifying-glass"

    def is_accessible(self, request: Request) -> bool:
        return getattr(request.state, "admin", None) is not None

    @expose("/door/desk", identity="door-desk")
    async def desk(self, request: Request) -> Response:
        _ = gettext_for(current_language())
        event_id = query_id(request, "event_id")
        q = (request.query_params.get("q") or "").strip()
        if len(q) > 200:
            raise http_refusal(400, N_("q: at most 200 characters"))
        gate_id = query_id(request, "gate_id")
        found: list[Any] = []
        gates: Sequence[Gate] = []
        event = None
        note = None
        if event_id is not None:
            async with self.context.session_maker() as session:
                event = await session.get(Event, event_id)
                if event is None:
                    raise not_found()
                gates = await GateService(session).list_gates(event_id)
                if searchable(q):
                    found = list(await ScanLogService(session).lookup(event_id, q))
                elif q:
                    note = _("Type at least %(count)s characters.") % {"count": LOOKUP_MIN}
        return await self.page(
            request,
            "ticketflow/desk.html",
            {
                "title": _("Door desk"),
                "subtitle": _("Find a ticket by holder name, e-mail or order number"),
                "events": await event_choices(self.context),
                "event": event,
                "gates": gates,
                "gate_id": gate_id,
                "q": q,
                "found": found,
                "note": note,
                "can_open_tickets": is_admin(request),
            },
        )

    @expose("/door/desk/tickets/{ticket_id:int}/admit", methods=["POST"], identity="door-desk-admit")
    async def admit(self, request: Request) -> Response:
        """Admit a found ticket, as a scan of its code by the signed-in account (staff or admin)
        would: the same atomic validation, recorded in the scan log."""
        ticket_id = path_id(request, "ticket_id")
        form = await request.form()
        event_id = parse_id(str(form.get("event_id", "")))
        gate_text = str(form.get("gate_id", "") or "")
        gate_id = parse_id(gate_text) if gate_text else None
        if event_id is None or (gate_text and gate_id is None):
            raise http_refusal(400, N_("event_id and gate_id must be ids"))
        async with self.context.session_maker() as session:
            ticket = await session.get(Ticket, ticket_id)
        if ticket is None or ticket.event_id != event_id:
            raise not_found()
        checkins = CheckInService(self.context.drivers, self.context.ticket_signer, self.checkin.gate_rules)
        outcome = await checkins.validate_ticket(
            code=ticket.code, door_event_id=event_id, scanner_id=signed_in(request).id, gate_id=gate_id
        )
        _ = gettext_for(current_language())
        name = outcome.ticket.holder_name if outcome.ticket else f"#{ticket_id}"
        if outcome.result == ScanResult.VALID:
            Flash.success(request, _("%(name)s admitted.") % {"name": name})
        else:
            why = outcome.reason.value if outcome.reason else outcome.result.value
            Flash.error(
                request,
                _("%(name)s not admitted: %(reason)s.")
                % {"name": name, "reason": _(REFUSAL_WORDS.get(why, why))},
            )
        back = urlencode(
            {k: v for k in ("event_id", "gate_id", "q") if isinstance(v := form.get(k), str) and v}
        )
        return RedirectResponse(f"{request.url_for('admin:view-door-desk')}?{back}", status_code=303)


DUPLICATES_PAGE = 50


class DuplicatesView(DoorPage):
    """Every ticket of an event admitted more than once, with each admission's device, gate and
    time: where to look for a copied code (`duplicate_admissions`, as
    `GET /events/{id}/duplicate-admissions`)."""

    name = lazy_gettext("Double admissions")
    icon = "fa-solid fa-clone"

    @expose("/door/duplicates", identity="door-duplicates")
    async def duplicates(self, request: Request) -> Response:
        _ = gettext_for(current_language())
        event_id = query_id(request, "event_id")
        page = page_number(request)
        items: list[Any] = []
        total = 0
        names: dict[str, dict[int, str]] = {}
        holders: dict[int, str] = {}
        event = None
        if event_id is not None:
            async with self.context.session_maker() as session:
                try:
                    items, total = await duplicate_admissions(
                        session, event_id, limit=DUPLICATES_PAGE, offset=(page - 1) * DUPLICATES_PAGE
                    )
                except NotFoundError as exc:
                    raise not_found() from exc
                event = await session.get(Event, event_id)
                names = await scan_names(session, [a for item in items for a in item.admissions])
                holders = await holder_names(session, [item.ticket_id for item in items])
        return await self.page(
            request,
            "ticketflow/duplicates.html",
            {
                "title": _("Double admissions"),
                "subtitle": _("Tickets admitted more than once, with each device, gate and time"),
                "events": await event_choices(self.context),
                "event": event,
                "items": items,
                "total": total,
                "page": page,
                "pages": max(1, -(-total // DUPLICATES_PAGE)),
                "names": names,
                "holders": holders,
            },
        )


async def holder_names(session: Any, ticket_ids: Sequence[int]) -> dict[int, str]:
    """Who holds each ticket (the attendee's name, else the buyer's)."""
    if not ticket_ids:
        return {}
    rows = await session.execute(
        select(Ticket.id, Ticket.attendee_name, User.name)
        .join(User, User.id == Ticket.user_id)
        .where(Ticket.id.in_(ticket_ids))
    )
    return {ticket_id: attendee_or_holder(attendee, holder) for ticket_id, attendee, holder in rows}


def page_number(request: Request) -> int:
    text = request.query_params.get("page", "1")
    if not (text.isascii() and text.isdigit() and len(text) <= 6) or not 1 <= int(text) <= 100_000:
        raise http_refusal(400, N_("page: not a page number"))
    return int(text)


DOOR_VIEWS: tuple[type[DoorPage], ...] = (GatesView, ScanLogView, DeskView, DuplicatesView)
