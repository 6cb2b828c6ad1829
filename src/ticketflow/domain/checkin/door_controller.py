"""HTTP endpoints of the door's back office: gates, scanner devices, the scan log, the desk lookup."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import msgspec
from advanced_alchemy.filters import LimitOffset
from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody, Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from ticketflow.db.models.checkins import CheckIn, InvalidReason, ScanResult
from ticketflow.db.models.gates import Gate as GateModel
from ticketflow.db.models.gates import Scanner as ScannerModel
from ticketflow.db.models.tickets import attendee_or_holder, code_to_show
from ticketflow.db.models.users import User
from ticketflow.domain.accounts.auth import admin_only, staff_or_admin
from ticketflow.domain.checkin.door import GateService, ScanLogService, ScannerService
from ticketflow.domain.checkin.door_schemas import (
    CheckInEntry,
    CheckInPage,
    FoundTicket,
    Gate,
    GateCreate,
    GatePatch,
    Paired,
    PairRequest,
    Scanner,
    ScannerCreate,
    ScannerCreated,
)
from ticketflow.domain.checkin.statements import GateCounters
from ticketflow.lib.access import PUBLIC_ROUTE
from ticketflow.lib.api_docs import PUBLIC, id_parameter
from ticketflow.lib.error_handlers import BAD_INPUT, BUSY, JSON_BODY_ERRORS, NO_TOKEN, error_responses
from ticketflow.lib.json_bodies import require_json_body
from ticketflow.lib.pagination import page_of, provide_limit_offset
from ticketflow.lib.ratelimit import LIMITS_UNAVAILABLE, AttemptLimiter, client_address
from ticketflow.lib.state import AppContext

EventId = Annotated[int, id_parameter("event id")]
GateId = Annotated[int, id_parameter("gate id")]
ScannerId = Annotated[int, id_parameter("scanner id")]
CheckInId = Annotated[int, id_parameter("check-in id")]
NOT_ADMIN = (403, "only admins manage the door")
NO_EVENT = (404, "event not found")
NO_GATE = (404, "gate not found")
NO_SCANNER = (404, "scanner not found")
TYPES_OF_ANOTHER_EVENT = (422, "ticket types not of this event")


def to_gate(gate: GateModel, counters: GateCounters | None = None) -> Gate:
    """The gate with its counters (none given: a new gate's, all zero)."""
    counted = counters or GateCounters(gate.id, gate.name, 0, 0, 0)
    return Gate(
        id=gate.id,
        event_id=gate.event_id,
        name=gate.name,
        ticket_type_ids=list(gate.ticket_type_ids),
        allow_reentry=gate.allow_reentry,
        admitted=counted.admitted,
        inside=counted.inside,
        refused=counted.refused,
    )


def to_scanner(scanner: ScannerModel, counts: tuple[int, int] = (0, 0)) -> Scanner:
    return Scanner(
        id=scanner.id,
        event_id=scanner.event_id,
        gate_id=scanner.gate_id,
        name=scanner.name,
        expires_at=scanner.expires_at,
        revoked_at=scanner.revoked_at,
        last_seen_at=scanner.last_seen_at,
        paired_at=scanner.paired_at,
        scans=counts[0],
        admitted=counts[1],
    )


def to_check_in(row: CheckIn) -> CheckInEntry:
    return CheckInEntry(
        id=row.id,
        ticket_id=row.ticket_id,
        event_id=row.event_id,
        gate_id=row.gate_id,
        scanner_id=row.scanner_id,
        scanned_by_id=row.scanned_by_id,
        result=ScanResult(row.result),
        reason=InvalidReason(row.reason) if row.reason else None,
        reverts_id=row.reverts_id,
        scanned_at=row.scanned_at,
    )


def pairing_limiter(context: AppContext) -> AttemptLimiter:
    """Pairing attempts per client, limited as logins are (a code is as good as a password)."""
    settings = context.settings
    return AttemptLimiter(
        context.store, settings.login_max_attempts_per_client, settings.login_window_seconds, "pair-client"
    )


def provide_gates(db_session: NamedDependency[AsyncSession]) -> GateService:
    return GateService(db_session)


def provide_scanners(db_session: NamedDependency[AsyncSession]) -> ScannerService:
    return ScannerService(db_session)


def provide_scan_log(db_session: NamedDependency[AsyncSession]) -> ScanLogService:
    return ScanLogService(db_session)


class GateController(Controller):
    tags = ["Door"]
    dependencies = {"gates": Provide(provide_gates, sync_to_thread=False)}

    @post(
        "/events/{event_id:int}/gates",
        guards=[admin_only],
        before_request=require_json_body,
        operation_id="createGate",
        summary="Add a gate to an event (admin)",
        description="`ticket_type_ids` empty: the gate admits every ticket of the event.",
        responses=error_responses(*JSON_BODY_ERRORS, NO_TOKEN, NOT_ADMIN, NO_EVENT, TYPES_OF_ANOTHER_EVENT),
    )
    async def create_gate(
        self, gates: NamedDependency[GateService], event_id: EventId, data: JSONBody[GateCreate]
    ) -> Gate:
        return to_gate(await gates.create_gate(event_id, **msgspec.structs.asdict(data)))

    @get(
        "/events/{event_id:int}/gates",
        guards=[admin_only],
        operation_id="listGates",
        summary="An event's gates with their counters (admin)",
        responses=error_responses(BAD_INPUT, NO_TOKEN, NOT_ADMIN, NO_EVENT),
    )
    async def list_gates(self, gates: NamedDependency[GateService], event_id: EventId) -> list[Gate]:
        found = await gates.list_gates(event_id)
        counters = await gates.counters(found)
        return [to_gate(gate, counters[gate.id]) for gate in found]

    @patch(
        "/gates/{gate_id:int}",
        guards=[admin_only],
        before_request=require_json_body,
        operation_id="updateGate",
        summary="Change a gate (admin)",
        responses=error_responses(*JSON_BODY_ERRORS, NO_TOKEN, NOT_ADMIN, NO_GATE, TYPES_OF_ANOTHER_EVENT),
    )
    async def update_gate(
        self, gates: NamedDependency[GateService], gate_id: GateId, data: JSONBody[GatePatch]
    ) -> Gate:
        changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
        gate = await gates.update_gate(gate_id, changes)
        return to_gate(gate, (await gates.counters([gate]))[gate.id])

    @delete(
        "/gates/{gate_id:int}",
        guards=[admin_only],
        operation_id="deleteGate",
        summary="Remove a gate (admin)",
        description="The gate's scanners are revoked; its scans stay in the log.",
        responses=error_responses(BAD_INPUT, NO_TOKEN, NOT_ADMIN, NO_GATE, BUSY),
    )
    async def delete_gate(self, gates: NamedDependency[GateService], gate_id: GateId) -> None:
        await gates.delete_gate(gate_id)


class ScannerController(Controller):
    tags = ["Door"]
    dependencies = {"scanners": Provide(provide_scanners, sync_to_thread=False)}

    @post(
        "/events/{event_id:int}/scanners",
        guards=[admin_only],
        before_request=require_json_body,
        operation_id="createScanner",
        summary="Add a scanner device to an event (admin)",
        description=(
            "Answers once with `pairing_code` and `pairing_url` (open it on the device); only a"
            " digest of the code is kept. The code pairs one device, until it is used, the scanner"
            " expires or is revoked, and at most 24 hours."
        ),
        responses=error_responses(
            *JSON_BODY_ERRORS,
            NO_TOKEN,
            NOT_ADMIN,
            NO_EVENT,
            (422, "expires_at out of range, or gate of another event"),
        ),
    )
    async def create_scanner(
        self,
        scanners: NamedDependency[ScannerService],
        context: NamedDependency[AppContext],
        event_id: EventId,
        data: JSONBody[ScannerCreate],
    ) -> ScannerCreated:
        scanner, code = await scanners.create_scanner(
            event_id, name=data.name, gate_id=data.gate_id, expires_at=data.expires_at
        )
        return ScannerCreated(
            **msgspec.structs.asdict(to_scanner(scanner)),
            pairing_code=code,
            pairing_url=f"{context.settings.public_base_url.rstrip('/')}/scan#code={code}",
        )

    @get(
        "/events/{event_id:int}/scanners",
        guards=[admin_only],
        operation_id="listScanners",
        summary="An event's scanner devices with their scan counts (admin)",
        responses=error_responses(BAD_INPUT, NO_TOKEN, NOT_ADMIN, NO_EVENT),
    )
    async def list_scanners(
        self, scanners: NamedDependency[ScannerService], event_id: EventId
    ) -> list[Scanner]:
        found = await scanners.list_scanners(event_id)
        counts = await scanners.scan_counts([scanner.id for scanner in found])
        return [to_scanner(scanner, counts.get(scanner.id, (0, 0))) for scanner in found]

    @post(
        "/scanners/pair",
        opt=PUBLIC_ROUTE,
        security=PUBLIC,
        status_code=200,
        before_request=require_json_body,
        operation_id="pairScanner",
        summary="Pair a device with its one-time code",
        description="Answers the device's token, for `Authorization: Bearer` on each scan.",
        responses=error_responses(
            *JSON_BODY_ERRORS,
            (401, "code unknown, already used, expired or revoked"),
            (429, "too many attempts from this address; see the Retry-After header"),
            LIMITS_UNAVAILABLE,
        ),
    )
    async def pair_scanner(
        self,
        request: Request[Any, Any, Any],
        scanners: NamedDependency[ScannerService],
        context: NamedDependency[AppContext],
        data: JSONBody[PairRequest],
    ) -> Paired:
        limiter = pairing_limiter(context)
        attempt = await limiter.acquire(client_address(request))
        scanner, token = await scanners.pair(data.code)
        await limiter.release(attempt)
        return Paired(access_token=token, scanner=to_scanner(scanner), token_type="bearer")

    @post(
        "/scanners/{scanner_id:int}/revoke",
        guards=[admin_only],
        status_code=200,
        operation_id="revokeScanner",
        summary="Revoke a scanner device at once (admin)",
        responses=error_responses(BAD_INPUT, NO_TOKEN, NOT_ADMIN, NO_SCANNER),
    )
    async def revoke_scanner(
        self, scanners: NamedDependency[ScannerService], scanner_id: ScannerId
    ) -> Scanner:
        scanner = await scanners.revoke(scanner_id)
        counts = await scanners.scan_counts([scanner.id])
        return to_scanner(scanner, counts.get(scanner.id, (0, 0)))


class ScanLogController(Controller):
    tags = ["Door"]
    dependencies = {
        "scan_log": Provide(provide_scan_log, sync_to_thread=False),
        "limit_offset": Provide(provide_limit_offset, sync_to_thread=False),
    }

    @get(
        "/check-ins",
        guards=[admin_only],
        operation_id="listCheckIns",
        summary="The scan log, newest first (admin)",
        responses=error_responses(BAD_INPUT, NO_TOKEN, NOT_ADMIN),
    )
    async def list_check_ins(
        self,
        scan_log: NamedDependency[ScanLogService],
        limit_offset: NamedDependency[LimitOffset],
        event_id: Annotated[int | None, id_parameter("event id", required=False)] = None,
        ticket_id: Annotated[int | None, id_parameter("ticket id", required=False)] = None,
        gate_id: Annotated[int | None, id_parameter("gate id", required=False)] = None,
        scanner_id: Annotated[int | None, id_parameter("scanner id", required=False)] = None,
        result: Annotated[ScanResult | None, Parameter(description="scan result")] = None,
    ) -> CheckInPage:
        filters = {
            "event_id": event_id,
            "ticket_id": ticket_id,
            "gate_id": gate_id,
            "scanner_id": scanner_id,
            "result": result.value if result else None,
        }
        return page_of(await scan_log.list_check_ins(filters, limit_offset=limit_offset), to_check_in)

    @post(
        "/check-ins/{check_in_id:int}/revert",
        guards=[admin_only],
        status_code=200,
        operation_id="revertCheckIn",
        summary="Undo an admission (admin)",
        description="The ticket is active again; the undo is recorded as its own `reverted` check-in.",
        responses=error_responses(
            BAD_INPUT,
            NO_TOKEN,
            NOT_ADMIN,
            (404, "check-in not found"),
            (409, "not an admission, not the ticket's latest, already undone, or the ticket changed since"),
        ),
    )
    async def revert_check_in(
        self,
        request: Request[User, Any, Any],
        scan_log: NamedDependency[ScanLogService],
        check_in_id: CheckInId,
    ) -> CheckInEntry:
        return to_check_in(await scan_log.revert(check_in_id, admin_id=request.user.id))

    @get(
        "/events/{event_id:int}/tickets/lookup",
        guards=[staff_or_admin],
        operation_id="lookupTickets",
        summary="Find an event's tickets at the door desk (staff or admin)",
        description=(
            "`q` matches holder or attendee name or e-mail (part of it), or an order id; at least"
            " 2 characters (an order id may be shorter), else 422."
        ),
        responses=error_responses(
            BAD_INPUT,
            NO_TOKEN,
            (403, "only door staff and admins"),
            NO_EVENT,
            (422, "q shorter than 2 characters (and not an order id)"),
        ),
    )
    async def lookup_tickets(
        self,
        scan_log: NamedDependency[ScanLogService],
        event_id: EventId,
        q: Annotated[str, Parameter(min_length=1, max_length=200, description="search text")],
    ) -> list[FoundTicket]:
        found = await scan_log.lookup(event_id, q)
        return found_tickets(found)


def found_tickets(found: Sequence[tuple[Any, User]]) -> list[FoundTicket]:
    return [
        FoundTicket(
            id=ticket.id,
            code=code_to_show(ticket.status, ticket.code),
            status=ticket.status,
            holder_name=attendee_or_holder(ticket.attendee_name, user.name),
            email=user.email,
            order_id=ticket.order_id,
            used_at=ticket.used_at,
        )
        for ticket, user in found
    ]
