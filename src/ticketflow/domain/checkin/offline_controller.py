"""HTTP endpoints of offline scanning: the scanner bundle, the sync, the double-admission report."""

from __future__ import annotations

import gzip
from typing import Annotated, Any

import msgspec
from advanced_alchemy.filters import LimitOffset
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from ticketflow.domain.accounts.auth import Credentials, admin_only, bearer_token
from ticketflow.domain.checkin.door import digest
from ticketflow.domain.checkin.offline import Caller, OfflineScanning, duplicate_admissions
from ticketflow.domain.checkin.offline_schemas import (
    CURSOR_PATTERN,
    DuplicateAdmissionPage,
    ScannerBundle,
    SyncRequest,
    SyncResponse,
)
from ticketflow.domain.checkin.scanner_tokens import SCANNER_TOKEN
from ticketflow.domain.checkin.service import Device
from ticketflow.domain.checkin.sync import SyncService
from ticketflow.lib.access import ROLE_READ_IN_TRANSACTION_ROUTE, TOKEN_KINDS_OPT_KEY
from ticketflow.lib.api_docs import BEARER, id_parameter
from ticketflow.lib.error_handlers import BAD_INPUT, BUSY, JSON_BODY_ERRORS, NO_TOKEN, error_responses
from ticketflow.lib.errors import PermissionDenied
from ticketflow.lib.i18n import N_
from ticketflow.lib.json_bodies import require_json_body
from ticketflow.lib.pagination import Page, provide_limit_offset
from ticketflow.lib.signed_codes import TicketSigner
from ticketflow.lib.state import AppContext

EventId = Annotated[int, id_parameter("event id")]
SCANNER_ROUTE = {**ROLE_READ_IN_TRANSACTION_ROUTE, TOKEN_KINDS_OPT_KEY: (SCANNER_TOKEN,)}
"""A paired device's token, or an account's (its role is read by the service)."""
GZIP_LEVEL = 6


def provide_signer(context: NamedDependency[AppContext]) -> TicketSigner:
    return context.ticket_signer


def provide_offline(
    db_session: NamedDependency[AsyncSession], signer: NamedDependency[TicketSigner]
) -> OfflineScanning:
    return OfflineScanning(db_session, signer)


def provide_sync(context: NamedDependency[AppContext], signer: NamedDependency[TicketSigner]) -> SyncService:
    return SyncService(context.drivers, signer)


def caller_of(request: Request[Any, Credentials, Any]) -> Caller:
    if request.auth.kind == SCANNER_TOKEN:
        return Caller(scanner_id=request.auth.subject, token=bearer_token(request) or "")
    return Caller(user_id=request.auth.subject)


def accepts_gzip(request: Request[Any, Any, Any]) -> bool:
    offered = request.headers.get("Accept-Encoding", "")
    for part in offered.split(","):
        name, _, quality = part.strip().partition(";")
        if name.strip().lower() == "gzip" and quality.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00"):
            return True
    return False


class OfflineController(Controller):
    tags = ["Door"]
    dependencies = {
        "signer": Provide(provide_signer, sync_to_thread=False),
        "offline": Provide(provide_offline, sync_to_thread=False),
        "sync_service": Provide(provide_sync, sync_to_thread=False),
        "limit_offset": Provide(provide_limit_offset, sync_to_thread=False),
    }

    @get(
        "/events/{event_id:int}/scanner-bundle",
        opt=SCANNER_ROUTE,
        security=BEARER,
        operation_id="getScannerBundle",
        summary="What a door needs to scan offline (paired scanner, staff or admin)",
        description=(
            "The public keys that verify `tf2.` codes, the event, its ticket types and gates, and"
            " the revoked codes (`{ticket_id, version}`: every code of the ticket up to that version"
            " is refused). Pass the answer's `cursor` as `since` to receive only the revocations"
            " that changed (`full: false`: merge them, keeping the highest version per ticket)."
            " Compressed with gzip when the client accepts it."
        ),
        responses={
            200: ResponseSpec(
                data_container=ScannerBundle, description="the bundle", generate_examples=False
            ),
            **error_responses(
                BAD_INPUT,
                NO_TOKEN,
                (403, "not door staff or an admin, or a scanner of another event"),
                (404, "event not found"),
                (422, "since is not a cursor of this server"),
            ),
        },
    )
    async def scanner_bundle(
        self,
        request: Request[Any, Credentials, Any],
        offline: NamedDependency[OfflineScanning],
        event_id: EventId,
        since: Annotated[
            str | None,
            Parameter(pattern=CURSOR_PATTERN, max_length=20, description="the cursor of your last bundle"),
        ] = None,
    ) -> Response[bytes]:
        bundle = await offline.scanner_bundle(caller_of(request), event_id, since)
        body = msgspec.json.encode(bundle)
        headers = {"Vary": "Accept-Encoding", "Cache-Control": "no-store"}
        if accepts_gzip(request):
            body = gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)
            headers["Content-Encoding"] = "gzip"
        return Response(body, media_type="application/json", headers=headers)

    @post(
        "/check-ins/sync",
        opt=SCANNER_ROUTE,
        security=BEARER,
        status_code=200,
        before_request=require_json_body,
        operation_id="syncOfflineScans",
        summary="Hand in a paired scanner's offline scans",
        description=(
            "Each scan is recorded once (by the device's `client_id`) and decided in scan-time order"
            " with every other scan of its ticket: the first admission counts (`valid`), a later one"
            " is a `duplicate_admission` (with `duplicate_of`). Sending a scan again records nothing"
            " and answers the server's current decision, which changes when an earlier admission of"
            " the same ticket arrived meanwhile. A bad batch changes nothing."
        ),
        responses=error_responses(
            *JSON_BODY_ERRORS,
            NO_TOKEN,
            (403, "not a paired scanner, or a gate it does not scan at"),
            (422, "client_id repeated, scanned_at outside the scanner's life, a gate of another event"),
            BUSY,
        ),
    )
    async def sync(
        self,
        request: Request[Any, Credentials, Any],
        sync_service: NamedDependency[SyncService],
        data: JSONBody[SyncRequest],
    ) -> SyncResponse:
        if request.auth.kind != SCANNER_TOKEN:
            raise PermissionDenied(N_("only a paired scanner hands in offline scans"))
        device = Device(request.auth.subject, digest(bearer_token(request) or ""))
        return SyncResponse(results=await sync_service.sync(device, data.scans))

    @get(
        "/events/{event_id:int}/duplicate-admissions",
        guards=[admin_only],
        operation_id="listDuplicateAdmissions",
        summary="Tickets admitted more than once (admin)",
        description=(
            "Every ticket of the event with a `duplicate_admission`, by ticket id, with all its"
            " admissions in scan order: which devices and gates let the same code in."
        ),
        responses=error_responses(BAD_INPUT, NO_TOKEN, (403, "only admins"), (404, "event not found")),
    )
    async def duplicate_admissions(
        self,
        db_session: NamedDependency[AsyncSession],
        limit_offset: NamedDependency[LimitOffset],
        event_id: EventId,
    ) -> DuplicateAdmissionPage:
        items, total = await duplicate_admissions(
            db_session, event_id, limit=limit_offset.limit, offset=limit_offset.offset
        )
        return Page(items=items, total=total, limit=limit_offset.limit, offset=limit_offset.offset)
