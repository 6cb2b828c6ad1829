"""Bodies of the door validation endpoint."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec

from ticketflow.db.models.checkins import InvalidReason, ScanResult
from ticketflow.db.models.tickets import TicketStatus
from ticketflow.lib.api_docs import MAX_ID


class ScanRequest(msgspec.Struct, forbid_unknown_fields=True):
    event_id: Annotated[int, msgspec.Meta(ge=1, le=MAX_ID, description="the door's event")] | None = None
    gate_id: Annotated[int, msgspec.Meta(ge=1, le=MAX_ID, description="the gate scanning")] | None = None
    direction: Literal["in", "out"] = "in"
    """`out`: the ticket leaves through `gate_id` (a re-entry gate lets it in again later)."""


class ScannedTicket(msgspec.Struct):
    """What a door needs in one glance, with the fields of the Ticket resource."""

    id: int
    order_id: int
    user_id: int
    """Its holder."""
    code: str
    """The code it holds now, which is the scanned one; empty for a code it was transferred away
    with (`transferred`): the new holder's code is not shown to whoever scans the old one."""
    status: TicketStatus
    event_id: int
    event_title: str
    holder_name: str
    """The attendee named for the ticket, else the name of the user who holds it."""
    used_at: dt.datetime | None
    ticket_type_id: int
    ticket_type_name: str
    """The ticket's type (General admission, VIP...): what the holder may enter as."""
    created_at: dt.datetime


class GateCounters(msgspec.Struct):
    """The scanning gate's counters, this scan counted (as `GET /events/{id}/gates` has them)."""

    id: int
    name: str
    admitted: int
    """Admissions through this gate, re-entries included."""
    inside: int
    """Tickets that came in through this gate and have not left."""
    refused: int


class ScanResponse(msgspec.Struct, omit_defaults=True):
    result: ScanResult
    check_in_id: int
    """The scan-log row of this scan (`GET /check-ins`, `POST /check-ins/{id}/revert`)."""
    reason: InvalidReason | None = None
    used_at: dt.datetime | None = None
    ticket: ScannedTicket | None = None
    gate: GateCounters | None = None
    """When the scan was made at a gate."""
