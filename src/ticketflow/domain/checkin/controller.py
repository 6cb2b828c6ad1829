"""POST /tickets/{qr_code}/validate - the door scanner's endpoint."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import JSONBody, Parameter
from litestar.status_codes import (
    HTTP_200_OK,
    HTTP_404_NOT_FOUND,
    HTTP_409_CONFLICT,
    HTTP_422_UNPROCESSABLE_ENTITY,
)

from ticketflow.db.models.checkins import InvalidReason, ScanResult
from ticketflow.db.models.tickets import TicketStatus
from ticketflow.domain.accounts.auth import Credentials, bearer_token
from ticketflow.domain.checkin.door import digest
from ticketflow.domain.checkin.scanner_tokens import SCANNER_TOKEN
from ticketflow.domain.checkin.schemas import GateCounters, ScannedTicket, ScanRequest, ScanResponse
from ticketflow.domain.checkin.service import CheckInService, Device, GateRuleCache, ScanOutcome
from ticketflow.lib.access import ROLE_READ_IN_TRANSACTION_ROUTE, TOKEN_KINDS_OPT_KEY
from ticketflow.lib.api_docs import BEARER
from ticketflow.lib.error_handlers import BUSY, JSON_BODY_ERRORS, NO_TOKEN, ErrorBody, error_responses
from ticketflow.lib.json_bodies import require_json_body
from ticketflow.lib.state import AppContext

SCAN_CODE_MAX = 512


REFUSAL_OR_ERROR: Any = ScanResponse | ErrorBody
"""A 422 of the door is a scan's refusal, or the plain error body when the request itself is wrong
(a gate of another event)."""


def scan_answers() -> dict[int, ResponseSpec]:
    """The refusals of a scan, each a `ScanResponse` (the door shows it as it is)."""
    refusals = {
        HTTP_404_NOT_FOUND: (
            "invalid: no ticket has this code",
            {"result": "invalid", "check_in_id": 1201, "reason": "unknown"},
        ),
        HTTP_409_CONFLICT: (
            "already_used: the ticket was admitted before, at `used_at`",
            {"result": "already_used", "check_in_id": 1202, "used_at": "2030-06-01T19:42:10Z"},
        ),
        HTTP_422_UNPROCESSABLE_ENTITY: (
            "invalid: the ticket exists but may not enter (`reason`)",
            {"result": "invalid", "check_in_id": 1203, "reason": "cancelled"},
        ),
    }
    return {
        status: ResponseSpec(
            data_container=REFUSAL_OR_ERROR if status == HTTP_422_UNPROCESSABLE_ENTITY else ScanResponse,
            description=meaning,
            generate_examples=False,
            examples=[Example(summary=str(value["result"]), value=value)],
        )
        for status, (meaning, value) in refusals.items()
    }


def provide_checkin_service(
    context: NamedDependency[AppContext], gate_rules: NamedDependency[GateRuleCache]
) -> CheckInService:
    return CheckInService(context.drivers, context.ticket_signer, gate_rules)


def scan_response(outcome: ScanOutcome) -> Response[ScanResponse]:
    ticket = None
    if outcome.ticket is not None:
        found = outcome.ticket
        ticket = ScannedTicket(
            id=found.id,
            order_id=found.order_id,
            user_id=found.user_id,
            code="" if outcome.reason == InvalidReason.TRANSFERRED else found.code,
            status=TicketStatus(found.status),
            event_id=found.event_id,
            event_title=found.event_title,
            holder_name=found.holder_name,
            used_at=found.used_at,
            ticket_type_id=found.ticket_type_id,
            ticket_type_name=found.ticket_type_name,
            created_at=found.created_at,
        )
    gate = outcome.gate
    if outcome.result in (ScanResult.VALID, ScanResult.EXITED):
        status = HTTP_200_OK
    elif outcome.result == ScanResult.ALREADY_USED:
        status = HTTP_409_CONFLICT
    elif ticket is None:
        status = HTTP_404_NOT_FOUND
    else:
        status = HTTP_422_UNPROCESSABLE_ENTITY
    body = ScanResponse(
        result=outcome.result,
        check_in_id=outcome.check_in_id,
        reason=outcome.reason,
        used_at=outcome.ticket.used_at
        if outcome.result == ScanResult.ALREADY_USED and outcome.ticket
        else None,
        ticket=ticket,
        gate=None
        if gate is None
        else GateCounters(gate.id, gate.name, gate.admitted, gate.inside, gate.refused),
    )
    return Response(body, status_code=status)


class CheckInController(Controller):
    tags = ["Door"]
    dependencies = {"checkins": Provide(provide_checkin_service, sync_to_thread=False)}

    @post(
        "/tickets/{qr_code:str}/validate",
        # the caller's role (or the paired device's row) is read in the validation transaction
        opt={**ROLE_READ_IN_TRANSACTION_ROUTE, TOKEN_KINDS_OPT_KEY: (SCANNER_TOKEN,)},
        security=BEARER,
        before_request=require_json_body,
        operation_id="validateTicket",
        status_code=200,
        summary="Validate a ticket at the door (staff, admin or a paired scanner)",
        description=(
            "Admits the ticket if it is active (it becomes `used`) in one atomic step. Answers"
            " 200 `valid`, 409 `already_used` (with the first `used_at`), 404 `invalid`/`unknown`,"
            " or 422 `invalid` with `reason` `cancelled`, `unpaid`, `wrong_event`, `event_cancelled`"
            " or `wrong_gate` (a ticket type the gate does not admit). `direction: out` (with"
            " `gate_id`) lets a ticket inside leave: 200 `exited`; a ticket not inside is 409"
            " `already_used`. At a gate the answer carries the gate's counters (`gate`). Every scan"
            " is recorded. A paired scanner's token scans only for its event (and gate)."
        ),
        responses={
            **error_responses(
                *JSON_BODY_ERRORS, NO_TOKEN, (403, "only door staff and admins validate"), BUSY
            ),
            **scan_answers(),
        },
    )
    async def validate(
        self,
        request: Request[Any, Credentials, Any],
        checkins: NamedDependency[CheckInService],
        qr_code: Annotated[str, Parameter(description="the ticket code read from the QR")],
        data: JSONBody[ScanRequest | None] = None,
    ) -> Response[ScanResponse]:
        device = None
        if request.auth.kind == SCANNER_TOKEN:
            device = Device(request.auth.subject, digest(bearer_token(request) or ""))
        outcome = await checkins.validate_ticket(
            code=qr_code[:SCAN_CODE_MAX],
            door_event_id=data.event_id if data else None,
            scanner_id=None if device else request.auth.subject,
            device=device,
            gate_id=data.gate_id if data else None,
            leaving=data is not None and data.direction == "out",
        )
        return scan_response(outcome)
