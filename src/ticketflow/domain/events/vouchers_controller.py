"""HTTP endpoints of vouchers (admin): create one or many, list (JSON or CSV), change, delete."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Response, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Reference, Schema
from litestar.params import JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from ticketflow.domain.accounts.auth import admin_only
from ticketflow.domain.events.schemas import Voucher, VoucherCreate, VoucherPatch
from ticketflow.domain.events.vouchers import MAX_BULK, VoucherService, VoucherView, random_code
from ticketflow.lib.api_docs import answer_content, id_parameter
from ticketflow.lib.csv_cells import csv_text
from ticketflow.lib.error_handlers import BAD_INPUT, NO_TOKEN, NOT_JSON, TOO_LARGE, error_responses
from ticketflow.lib.errors import RuleViolation
from ticketflow.lib.i18n import N_
from ticketflow.lib.json_bodies import require_json_body

EventId = Annotated[int, id_parameter("event id")]
VoucherId = Annotated[int, id_parameter("voucher id")]
NOT_ADMIN = (403, "only admins manage vouchers")
VOUCHER_NOT_FOUND = (404, "voucher not found")
CSV_COLUMNS = (
    "id",
    "code",
    "kind",
    "value",
    "ticket_type_ids",
    "max_uses",
    "uses",
    "valid_from",
    "valid_until",
    "unlocks_hidden",
)


VOUCHERS_JSON_OR_CSV = answer_content(
    {
        "application/json": OpenAPIMediaType(
            schema=Schema(type=OpenAPIType.ARRAY, items=Reference("#/components/schemas/Voucher"))
        ),
        "text/csv": OpenAPIMediaType(
            schema=Schema(
                type=OpenAPIType.STRING, description="`format=csv`: a header row, then one row a voucher"
            ),
            example=",".join(CSV_COLUMNS)
            + "\r\n7,SPRING-10,percent,10,3 4,100,12,2026-03-01T00:00:00+00:00,,False\r\n",
        ),
    }
)
"""`listVouchers` answers JSON, or with `format=csv` the same vouchers as a CSV file."""


def to_voucher(view: VoucherView) -> Voucher:
    voucher = view.voucher
    return Voucher(
        id=voucher.id,
        event_id=voucher.event_id,
        code=voucher.code,
        kind=voucher.kind,
        value=voucher.value,
        ticket_type_ids=view.ticket_type_ids,
        max_uses=voucher.max_uses,
        uses=voucher.uses,
        valid_from=voucher.valid_from,
        valid_until=voucher.valid_until,
        unlocks_hidden=voucher.unlocks_hidden,
        created_at=voucher.created_at,
    )


def csv_row(voucher: Voucher) -> list[Any]:
    row = [getattr(voucher, name) for name in CSV_COLUMNS]
    row[CSV_COLUMNS.index("ticket_type_ids")] = " ".join(str(t) for t in voucher.ticket_type_ids)
    return row


def codes_of(data: VoucherCreate) -> list[str]:
    if (data.code is None) == (data.count is None):
        raise RuleViolation(N_("send either a code or a count of random codes"), field="code")
    if data.code is not None:
        return [data.code]
    codes: set[str] = set()
    while len(codes) < min(data.count or 1, MAX_BULK):
        codes.add(random_code())
    return sorted(codes)


def provide_voucher_service(db_session: NamedDependency[AsyncSession]) -> VoucherService:
    return VoucherService(db_session)


class VoucherController(Controller):
    tags = ["Vouchers"]
    dependencies = {"vouchers": Provide(provide_voucher_service, sync_to_thread=False)}

    @post(
        "/events/{event_id:int}/vouchers",
        guards=[admin_only],
        before_request=require_json_body,
        operation_id="createVouchers",
        summary="Create a voucher, or many with random codes (admin)",
        description=(
            "With `code`: that one voucher. With `count`: that many vouchers alike, each with a"
            " random 10-character code (no look-alike characters). Answers the vouchers created."
        ),
        responses=error_responses(
            BAD_INPUT,
            NO_TOKEN,
            NOT_ADMIN,
            (404, "event not found"),
            (409, "the event already has a voucher with this code"),
            TOO_LARGE,
            NOT_JSON,
            (422, "code and count both or neither, percent above 100, types of another event"),
        ),
    )
    async def create_vouchers(
        self, vouchers: NamedDependency[VoucherService], event_id: EventId, data: JSONBody[VoucherCreate]
    ) -> list[Voucher]:
        values = msgspec.structs.asdict(data)
        type_ids = values.pop("ticket_type_ids")
        for name in ("code", "count"):
            values.pop(name)
        created = await vouchers.create_vouchers(event_id, values, codes_of(data), type_ids)
        return [to_voucher(view) for view in created]

    @get(
        "/events/{event_id:int}/vouchers",
        guards=[admin_only],
        operation_id="listVouchers",
        summary="The vouchers of an event (admin; JSON or CSV)",
        description="`format=csv` answers a spreadsheet-safe CSV file of the same vouchers.",
        responses=error_responses(BAD_INPUT, NO_TOKEN, NOT_ADMIN, (404, "event not found")),
        operation_class=VOUCHERS_JSON_OR_CSV,
    )
    async def list_vouchers(
        self,
        vouchers: NamedDependency[VoucherService],
        event_id: EventId,
        output_format: Annotated[
            Literal["json", "csv"], QueryParameter(name="format", description="json (default) or csv")
        ] = "json",
    ) -> Response[Any]:
        listed = [to_voucher(view) for view in await vouchers.of_event(event_id)]
        if output_format == "csv":
            return Response(
                csv_text(CSV_COLUMNS, [csv_row(v) for v in listed]),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="event-{event_id}-vouchers.csv"'},
            )
        return Response(listed)

    @patch(
        "/vouchers/{voucher_id:int}",
        guards=[admin_only],
        before_request=require_json_body,
        operation_id="updateVoucher",
        summary="Change a voucher (admin)",
        responses=error_responses(
            BAD_INPUT,
            NO_TOKEN,
            NOT_ADMIN,
            VOUCHER_NOT_FOUND,
            (409, "max_uses below the uses already made"),
            TOO_LARGE,
            NOT_JSON,
            (422, "percent above 100, window reversed, types of another event"),
        ),
    )
    async def update_voucher(
        self, vouchers: NamedDependency[VoucherService], voucher_id: VoucherId, data: JSONBody[VoucherPatch]
    ) -> Voucher:
        changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
        type_ids = changes.pop("ticket_type_ids", None)
        return to_voucher(await vouchers.update_voucher(voucher_id, changes, type_ids))

    @delete(
        "/vouchers/{voucher_id:int}",
        guards=[admin_only],
        operation_id="deleteVoucher",
        summary="Delete a voucher no order redeemed (admin)",
        responses=error_responses(
            BAD_INPUT, NO_TOKEN, NOT_ADMIN, VOUCHER_NOT_FOUND, (409, "redeemed: limit it instead")
        ),
    )
    async def delete_voucher(self, vouchers: NamedDependency[VoucherService], voucher_id: VoucherId) -> None:
        await vouchers.delete_voucher(voucher_id)
