"""Bodies of the door's back-office API: gates, scanner devices, the scan log, the desk lookup."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec

from ticketflow.db.models.checkins import InvalidReason, ScanResult
from ticketflow.db.models.gates import GATE_NAME_MAX, SCANNER_NAME_MAX
from ticketflow.db.models.tickets import TicketStatus
from ticketflow.domain.accounts.schemas import PRINTABLE_PATTERN
from ticketflow.lib.api_docs import MAX_ID
from ticketflow.lib.pagination import Page, schema_name

MAX_GATE_TYPES = 100
PAIRING_CODE_MAX = 64

GateName = Annotated[
    str,
    msgspec.Meta(min_length=1, max_length=GATE_NAME_MAX, pattern=PRINTABLE_PATTERN, examples=["North door"]),
]
ScannerName = Annotated[
    str,
    msgspec.Meta(min_length=1, max_length=SCANNER_NAME_MAX, pattern=PRINTABLE_PATTERN, examples=["Phone 1"]),
]
TypeIds = Annotated[
    list[Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)]],
    msgspec.Meta(max_length=MAX_GATE_TYPES, description="ticket types the gate admits; empty: all"),
]


class GateCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: GateName
    ticket_type_ids: TypeIds = msgspec.field(default_factory=list)
    allow_reentry: bool = False


class GatePatch(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    name: GateName | msgspec.UnsetType = msgspec.UNSET
    ticket_type_ids: TypeIds | msgspec.UnsetType = msgspec.UNSET
    allow_reentry: bool | msgspec.UnsetType = msgspec.UNSET


class Gate(msgspec.Struct):
    id: int
    event_id: int
    name: str
    ticket_type_ids: list[int]
    allow_reentry: bool
    admitted: int
    """Admissions through this gate, re-entries included."""
    inside: int
    refused: int


class ScannerCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: ScannerName
    gate_id: Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)] | None = None
    expires_at: (
        Annotated[
            dt.datetime, msgspec.Meta(tz=True, description="default: 24 hours from now; at most 30 days")
        ]
        | None
    ) = None


class Scanner(msgspec.Struct):
    id: int
    event_id: int
    gate_id: int | None
    name: str
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    last_seen_at: dt.datetime | None
    paired_at: dt.datetime | None
    scans: int
    """Scans this device made."""
    admitted: int
    """Of them, admissions."""


class ScannerCreated(Scanner, kw_only=True):
    """Shown once: the code is stored only as a digest."""

    pairing_code: str
    pairing_url: str
    """The scanner page's address ending in `#code=<pairing_code>`."""


class PairRequest(msgspec.Struct, forbid_unknown_fields=True):
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=PAIRING_CODE_MAX)]


class Paired(msgspec.Struct):
    access_token: str
    """Send as `Authorization: Bearer <access_token>` with each scan."""
    scanner: Scanner
    token_type: Literal["bearer"]


class CheckInEntry(msgspec.Struct):
    id: int
    ticket_id: int | None
    event_id: int | None
    gate_id: int | None
    scanner_id: int | None
    scanned_by_id: int | None
    result: ScanResult
    reason: InvalidReason | None
    reverts_id: int | None
    scanned_at: dt.datetime


CheckInPage = Annotated[Page[CheckInEntry], schema_name("CheckInPage")]


class FoundTicket(msgspec.Struct):
    id: int
    code: str
    """For admitting the ticket by hand (`POST /tickets/{code}/validate`); empty while unpaid."""
    status: TicketStatus
    holder_name: str
    email: str
    order_id: int
    used_at: dt.datetime | None
