"""What an event sells, in the back office: its ticket types and its vouchers.

Every change goes through `TicketTypeService` and `VoucherService`, the code behind
`POST /events/{id}/ticket-types`, `PATCH`/`DELETE /ticket-types/{id}`, `POST /events/{id}/vouchers`
and `PATCH`/`DELETE /vouchers/{id}`; forms are checked by the same msgspec schemas as those
bodies. A type with sales is never deleted (the service refuses; the page offers to take it off
sale instead), nor is a redeemed voucher. The vouchers' CSV is the API's (`?format=csv`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from sqladmin import expose
from sqladmin.flash import Flash
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ticketflow.admin.dashboard import path_id
from ticketflow.admin.forms import (
    AdminInputError,
    TicketTypeForm,
    VoucherForm,
    convert,
    form_errors,
    not_found,
    ticket_type_form_data,
    voucher_form_data,
)
from ticketflow.admin.pages import AdminPage, event_choices, refused
from ticketflow.db.models.events import Event
from ticketflow.db.models.ticket_types import TicketType
from ticketflow.domain.events.schemas import TicketTypeCreate, VoucherCreate, VoucherPatch
from ticketflow.domain.events.ticket_types import TicketTypeService, type_available
from ticketflow.domain.events.ticket_types_controller import type_values
from ticketflow.domain.events.vouchers import VoucherService, VoucherView
from ticketflow.domain.events.vouchers_controller import CSV_COLUMNS, codes_of, csv_row, to_voucher
from ticketflow.lib.csv_cells import csv_text
from ticketflow.lib.errors import DomainError, NotFoundError
from ticketflow.lib.i18n import current_language, gettext_for, lazy_gettext


class SalesView(AdminPage):
    """Ticket types and vouchers of an event."""

    name = lazy_gettext("Ticket types and vouchers")
    icon = "fa-solid fa-tags"

    @expose("/sales", identity="sales")
    async def index(self, request: Request) -> Response:
        _ = gettext_for(current_language())
        return await self.page(
            request,
            "ticketflow/sales_index.html",
            {
                "title": _("Ticket types and vouchers"),
                "subtitle": _("What each event sells"),
                "events": await event_choices(self.context),
            },
        )

    @expose("/sales/events/{event_id:int}", identity="sales-event")
    async def event_sales(self, request: Request) -> Response:
        return await self._event_page(request, path_id(request))

    @expose("/sales/events/{event_id:int}/ticket-types", methods=["POST"], identity="sales-type-create")
    async def create_type(self, request: Request) -> Response:
        event_id = path_id(request)
        event = await self._event(event_id)
        form = TicketTypeForm(await request.form())
        try:
            if not form.validate():
                raise AdminInputError(form_errors(form))
            values = type_values(convert(form.values(event.timezone), TicketTypeCreate))
            async with self.context.session_maker() as session:
                created, _event = await TicketTypeService(session).create_type(event_id, values)
        except (AdminInputError, DomainError) as exc:
            error, status_code = refused(exc)
            return await self._event_page(
                request, event_id, type_form=form, error=error, status_code=status_code
            )
        _ = gettext_for(current_language())
        Flash.success(request, _("Ticket type %(name)s added.") % {"name": created.name})
        return self._back_to_event(request, event_id)

    @expose("/sales/ticket-types/{type_id:int}", methods=["GET", "POST"], identity="sales-type")
    async def edit_type(self, request: Request) -> Response:
        type_id = path_id(request, "type_id")
        ticket_type, event = await self._ticket_type(type_id)
        error, status_code = None, 200
        if request.method == "POST":
            form = TicketTypeForm(await request.form())
            try:
                if not form.validate():
                    raise AdminInputError(form_errors(form))
                changes = type_values(convert(form.values(event.timezone), TicketTypeCreate))
                if changes.get("position") is None:
                    changes.pop("position", None)
                async with self.context.session_maker() as session:
                    await TicketTypeService(session).update_type(type_id, changes)
            except (AdminInputError, DomainError) as exc:
                error, status_code = refused(exc)
            else:
                _ = gettext_for(current_language())
                Flash.success(request, _("Ticket type %(name)s saved.") % {"name": changes["name"]})
                return self._back_to_event(request, event.id)
        else:
            form = TicketTypeForm(data=ticket_type_form_data(ticket_type, event.timezone))
        return await self._form_page(
            request,
            ticket_type.name,
            event,
            form,
            request.url_for("admin:view-sales-type", type_id=type_id),
            error,
            status_code,
        )

    @expose("/sales/ticket-types/{type_id:int}/delete", methods=["POST"], identity="sales-type-delete")
    async def delete_type(self, request: Request) -> Response:
        """Through `TicketTypeService.delete`: a type with sales is refused (409), deactivate it instead."""
        type_id = path_id(request, "type_id")
        ticket_type, event = await self._ticket_type(type_id)
        _ = gettext_for(current_language())
        return await self._change_and_return(
            request,
            event.id,
            lambda session: TicketTypeService(session).delete_type(type_id),
            _("Ticket type %(name)s deleted.") % {"name": ticket_type.name},
        )

    @expose(
        "/sales/ticket-types/{type_id:int}/deactivate", methods=["POST"], identity="sales-type-deactivate"
    )
    async def deactivate_type(self, request: Request) -> Response:
        """Takes a type off sale (`active: false`), as `PATCH /ticket-types/{id}` does."""
        type_id = path_id(request, "type_id")
        ticket_type, event = await self._ticket_type(type_id)
        _ = gettext_for(current_language())
        return await self._change_and_return(
            request,
            event.id,
            lambda session: TicketTypeService(session).update_type(type_id, {"active": False}),
            _("Ticket type %(name)s taken off sale.") % {"name": ticket_type.name},
        )

    @expose("/sales/events/{event_id:int}/vouchers", methods=["POST"], identity="sales-voucher-create")
    async def create_vouchers(self, request: Request) -> Response:
        event_id = path_id(request)
        event = await self._event(event_id)
        types = await self._types(event_id)
        form = VoucherForm(await request.form(), type_choices=types)
        try:
            if not form.validate():
                raise AdminInputError(form_errors(form))
            data = convert(form.values(event.timezone), VoucherCreate)
            codes = codes_of(data)
            values = {
                name: getattr(data, name)
                for name in ("kind", "value", "max_uses", "valid_from", "valid_until", "unlocks_hidden")
            }
            async with self.context.session_maker() as session:
                created = await VoucherService(session).create_vouchers(
                    event_id, values, codes, data.ticket_type_ids
                )
        except (AdminInputError, DomainError) as exc:
            error, status_code = refused(exc)
            return await self._event_page(
                request, event_id, voucher_form=form, error=error, status_code=status_code
            )
        _ = gettext_for(current_language())
        Flash.success(request, _("%(count)s voucher(s) created.") % {"count": len(created)})
        return self._back_to_event(request, event_id)

    @expose("/sales/vouchers/{voucher_id:int}", methods=["GET", "POST"], identity="sales-voucher")
    async def edit_voucher(self, request: Request) -> Response:
        voucher_id = path_id(request, "voucher_id")
        view = await self._voucher(voucher_id)
        event = await self._event(view.voucher.event_id)
        types = await self._types(event.id)
        error, status_code = None, 200
        if request.method == "POST":
            form = VoucherForm(await request.form(), type_choices=types, editing=True)
            try:
                if not form.validate():
                    raise AdminInputError(form_errors(form))
                changes = msgspec_changes(convert(form.values(event.timezone), VoucherPatch))
                type_ids = changes.pop("ticket_type_ids", None)
                async with self.context.session_maker() as session:
                    await VoucherService(session).update_voucher(voucher_id, changes, type_ids)
            except (AdminInputError, DomainError) as exc:
                error, status_code = refused(exc)
            else:
                _ = gettext_for(current_language())
                Flash.success(request, _("Voucher %(code)s saved.") % {"code": view.voucher.code})
                return self._back_to_event(request, event.id)
        else:
            form = VoucherForm(
                type_choices=types,
                editing=True,
                data=voucher_form_data(view.voucher, view.ticket_type_ids, event.timezone),
            )
        return await self._form_page(
            request,
            view.voucher.code,
            event,
            form,
            request.url_for("admin:view-sales-voucher", voucher_id=voucher_id),
            error,
            status_code,
        )

    @expose("/sales/vouchers/{voucher_id:int}/delete", methods=["POST"], identity="sales-voucher-delete")
    async def delete_voucher(self, request: Request) -> Response:
        """Through `VoucherService.delete`: a redeemed voucher is refused (409), limit it instead."""
        voucher_id = path_id(request, "voucher_id")
        view = await self._voucher(voucher_id)
        _ = gettext_for(current_language())
        return await self._change_and_return(
            request,
            view.voucher.event_id,
            lambda session: VoucherService(session).delete_voucher(voucher_id),
            _("Voucher %(code)s deleted.") % {"code": view.voucher.code},
        )

    @expose("/sales/events/{event_id:int}/vouchers.csv", identity="sales-vouchers-csv")
    async def vouchers_csv(self, request: Request) -> Response:
        """The same file as `GET /events/{id}/vouchers?format=csv`."""
        event_id = path_id(request)
        async with self.context.session_maker() as session:
            try:
                listed = [to_voucher(view) for view in await VoucherService(session).of_event(event_id)]
            except NotFoundError as exc:
                raise not_found() from exc
        return Response(
            csv_text(CSV_COLUMNS, [csv_row(v) for v in listed]),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="event-{event_id}-vouchers.csv"',
                "Cache-Control": "no-store",
            },
        )

    async def _event_page(
        self,
        request: Request,
        event_id: int,
        *,
        type_form: TicketTypeForm | None = None,
        voucher_form: VoucherForm | None = None,
        error: str | None = None,
        status_code: int = 200,
    ) -> Response:
        async with self.context.session_maker() as session:
            try:
                event, types = await TicketTypeService(session).list_types(event_id, everything=True)
                vouchers = await VoucherService(session).of_event(event_id)
            except NotFoundError as exc:
                raise not_found() from exc
        _ = gettext_for(current_language())
        return await self.page(
            request,
            "ticketflow/sales_event.html",
            {
                "title": event.title,
                "subtitle": _("Ticket types and vouchers"),
                "event": event,
                "types": [(t, type_available(t, event)) for t in types],
                "type_names": {t.id: t.name for t in types},
                "vouchers": vouchers,
                "type_form": type_form or TicketTypeForm(),
                "voucher_form": voucher_form or VoucherForm(type_choices=types),
                "error": error,
            },
            status_code,
        )

    async def _form_page(
        self,
        request: Request,
        title: str,
        event: Event,
        form: Any,
        action: Any,
        error: str | None,
        status_code: int,
    ) -> Response:
        """The edit page of a type or a voucher."""
        values = {"title": title, "subtitle": event.title, "event": event, "form": form, "action": action}
        return await self.page(request, "ticketflow/sales_form.html", values | {"error": error}, status_code)

    async def _change_and_return(
        self, request: Request, event_id: int, change: Callable[[AsyncSession], Awaitable[Any]], done: str
    ) -> Response:
        """One service call, then back to the event's page with `done` (or the refusal on it)."""
        refusal = await self._change(change)
        if refusal is not None:
            return await self._event_page(request, event_id, error=refusal[0], status_code=refusal[1])
        Flash.success(request, done)
        return self._back_to_event(request, event_id)

    async def _change(self, change: Callable[[AsyncSession], Awaitable[Any]]) -> tuple[str, int] | None:
        """Run one service call; its refusal (text, status) once the session is closed, or None."""
        async with self.context.session_maker() as session:
            try:
                await change(session)
            except DomainError as exc:
                return refused(exc)
        return None

    async def _event(self, event_id: int) -> Event:
        async with self.context.session_maker() as session:
            event = await session.get(Event, event_id)
        if event is None:
            raise not_found()
        return event

    async def _types(self, event_id: int) -> list[TicketType]:
        async with self.context.session_maker() as session:
            try:
                return (await TicketTypeService(session).list_types(event_id, everything=True))[1]
            except NotFoundError as exc:
                raise not_found() from exc

    async def _ticket_type(self, type_id: int) -> tuple[TicketType, Event]:
        async with self.context.session_maker() as session:
            try:
                return await TicketTypeService(session).get_type(type_id)
            except NotFoundError as exc:
                raise not_found() from exc

    async def _voucher(self, voucher_id: int) -> VoucherView:
        async with self.context.session_maker() as session:
            try:
                return await VoucherService(session).get_voucher(voucher_id)
            except NotFoundError as exc:
                raise not_found() from exc

    @staticmethod
    def _back_to_event(request: Request, event_id: int) -> Response:
        return RedirectResponse(request.url_for("admin:view-sales-event", event_id=event_id), status_code=303)


def msgspec_changes(patch: Any) -> dict[str, Any]:
    """The fields a patch sets."""
    return {k: v for k, v in msgspec.structs.asdict(patch).items() if v is not msgspec.UNSET}


SALES_VIEWS: tuple[type[AdminPage], ...] = (SalesView,)
