"""Bodies of offline scanning: the scanner bundle, the sync of offline scans, the double-admission
report."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec

from ticketflow.db.models.checkins import CLIENT_ID_MAX, InvalidReason, ScanResult
from ticketflow.db.models.events import EventStatus
from ticketflow.lib.api_docs import MAX_ID
from ticketflow.lib.pagination import Page, schema_name
from ticketflow.lib.signed_codes import PublicKey

MAX_SYNC_BATCH = 1000
"""Scans in one sync request; a device with more sends several batches."""
SYNC_CODE_MAX = 512
"""As the door takes a scanned text: longer is kept cut (no ticket code is that long)."""
CLIENT_ID_PATTERN = r"^[A-Za-z0-9._:-]+$"
CURSOR_PATTERN = r"^[0-9]{1,20}$"

OfflineAnswer = Literal["valid", "already_used", "invalid", "exited"]


class BundleEvent(msgspec.Struct):
    id: int
    title: str
    venue: str
    starts_at: dt.datetime
    ends_at: dt.datetime | None
    status: EventStatus


class BundleTicketType(msgspec.Struct):
    id: int
    name: str


class BundleGate(msgspec.Struct):
    id: int
    name: str
    ticket_type_ids: list[int]
    """Empty: the gate admits every ticket type."""
    allow_reentry: bool


class RevokedCode(msgspec.Struct):
    """Every code of ticket `ticket_id` up to version `version` is refused (a cancelled ticket:
    its current version; a reissued one: the versions before the current)."""

    ticket_id: int
    version: int


class ScannerBundle(msgspec.Struct):
    keys: list[PublicKey]
    """Every key that verifies codes, the signing one first."""
    event: BundleEvent
    ticket_types: list[BundleTicketType]
    gates: list[BundleGate]
    revoked: list[RevokedCode]
    """With `since`: the changes after that cursor only (merge: keep the highest version)."""
    cursor: str
    """Pass as `since` next time to receive only what changed."""
    full: bool
    """True: `revoked` is the whole list (replace yours); False: changes since `since` (merge)."""
    scanner_gate_id: int | None = None
    """The gate of the paired device asking, if it is bound to one."""


class OfflineScan(msgspec.Struct, forbid_unknown_fields=True):
    client_id: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=CLIENT_ID_MAX,
            pattern=CLIENT_ID_PATTERN,
            description="made by the device, unique among its scans: a scan sent again is found by it",
        ),
    ]
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=SYNC_CODE_MAX)]
    scanned_at: Annotated[dt.datetime, msgspec.Meta(tz=True, description="when the device scanned")]
    offline_result: OfflineAnswer
    """What the device answered at the door."""
    gate_id: Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)] | None = None
    direction: Literal["in", "out"] = "in"


class SyncRequest(msgspec.Struct, forbid_unknown_fields=True):
    scans: Annotated[list[OfflineScan], msgspec.Meta(min_length=1, max_length=MAX_SYNC_BATCH)]


class SyncedScan(msgspec.Struct, omit_defaults=True):
    client_id: str
    result: ScanResult
    reason: InvalidReason | None = None
    duplicate_of: int | None = None
    """For `duplicate_admission`: the check-in that admitted the ticket first."""
    check_in_id: int = 0


class SyncResponse(msgspec.Struct):
    results: list[SyncedScan]


class Admission(msgspec.Struct):
    check_in_id: int
    scanner_id: int | None
    gate_id: int | None
    scanned_at: dt.datetime
    result: ScanResult
    """`valid` for the admission that counts, `duplicate_admission` for the others."""
    scanned_by_id: int | None = None


class DuplicateAdmission(msgspec.Struct):
    ticket_id: int
    admissions: list[Admission]


DuplicateAdmissionPage = Annotated[Page[DuplicateAdmission], schema_name("DuplicateAdmissionPage")]
