"""Door validation: one atomic `active -> used` change per ticket, every scan logged.

The state change is a single conditional UPDATE (`... WHERE code = %s AND status = 'active'`).
Of any number of simultaneous scans of one ticket, across any number of processes, the database
lets exactly one of them match the row; the others see `used` and answer `already_used`.

This is the busiest endpoint on the night of a show: it runs five fixed statements in one short
transaction on a driver connection (`ticketflow.db.driver_pool`), re-reading the scanner's role
first so a demoted account is refused at once.

A scanned text that does not have the shape of a ticket code (`lib/ticket_codes.py`) is
`invalid`/`unknown` without a look-up: no ticket was ever issued with it. It is still recorded.
Codes are compared byte for byte (a binary NO PAD collation on MySQL/MariaDB, see
`db.types.ExactString`): another case or a trailing space is another code.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from ticketflow.db.base import utc_now
from ticketflow.db.driver import DriverConnection
from ticketflow.db.driver_pool import DriverPool
from ticketflow.db.models.checkins import SCANNED_CODE_MAX, InvalidReason, ScanResult
from ticketflow.db.models.events import EventStatus
from ticketflow.db.models.tickets import TicketStatus
from ticketflow.db.models.users import Role
from ticketflow.lib.errors import AuthenticationFailed, PermissionDenied, RuleViolation
from ticketflow.lib.roles import require_role
from ticketflow.lib.ticket_codes import looks_like_ticket_code

SCANNER_ROLES = frozenset({Role.STAFF, Role.ADMIN})

ADMIT = (
    "UPDATE tickets SET status = 'used', used_at = %s, updated_at = %s"
    " WHERE code = %s AND status = 'active'"
    " AND event_id IN (SELECT id FROM events WHERE status = 'scheduled')"
)
ADMIT_AT_DOOR = ADMIT + " AND event_id = %s"
SELECT_SCANNED = (
    "SELECT tickets.id, tickets.status, tickets.event_id, events.title, events.status,"
    " COALESCE(tickets.attendee_name, users.name),"
    " tickets.used_at FROM tickets JOIN events ON events.id = tickets.event_id"
    " JOIN users ON users.id = tickets.user_id WHERE tickets.code = %s"
)
RECORD_SCAN = (
    "INSERT INTO check_ins (ticket_id, event_id, door_event_id, scanned_code, result, reason,"
    " scanned_by_id, scanner_id, gate_id, scanned_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
SELECT_DEVICE = (
    "SELECT event_id, last_seen_at, gate_id FROM scanners WHERE id = %s AND token_hash = %s"
    " AND revoked_at IS NULL AND expires_at > %s"
)
SELECT_GATE = "SELECT event_id, allow_reentry FROM gates WHERE id = %s"
LEAVE = (
    "UPDATE tickets SET status = 'active', updated_at = %s"
    " WHERE code = %s AND status = 'used' AND event_id = %s"
)
COUNT_AT_GATE = (
    "UPDATE gates SET admitted = admitted + %s, refused = refused + %s,"
    " inside = CASE WHEN inside + %s < 0 THEN 0 ELSE inside + %s END WHERE id = %s"
)
TOUCH_DEVICE = "UPDATE scanners SET last_seen_at = %s WHERE id = %s"
DEVICE_SEEN_EVERY = dt.timedelta(minutes=1)
"""`last_seen_at` is written at most this often per device, not with every scan."""


@dataclass(frozen=True, slots=True)
class Device:
    """A paired scanner device's credentials: its id and the digest of the token it sent."""

    id: int
    token_digest: bytes


@dataclass(frozen=True, slots=True)
class ScannedTicket:
    """What the door needs to know of a scanned ticket."""

    id: int
    status: str
    event_id: int
    event_title: str
    event_status: str
    holder_name: str
    used_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class ScanOutcome:
    result: ScanResult
    reason: InvalidReason | None
    ticket: ScannedTicket | None
    scanned_at: dt.datetime
    check_in_id: int = 0
    """The scan-log row of this scan."""


def invalid_reason(ticket: ScannedTicket, door_event_id: int | None) -> InvalidReason | None:
    """Why a ticket that was not just admitted is refused (None: it was used before)."""
    if door_event_id is not None and ticket.event_id != door_event_id:
        return InvalidReason.WRONG_EVENT
    if ticket.event_status == EventStatus.CANCELLED:
        return InvalidReason.EVENT_CANCELLED
    if ticket.status == TicketStatus.CANCELLED:
        return InvalidReason.CANCELLED
    if ticket.status == TicketStatus.PENDING:
        return InvalidReason.UNPAID
    return None


class CheckInService:
    def __init__(self, drivers: DriverPool) -> None:
        self.drivers = drivers

    async def validate_ticket(
        self,
        *,
        code: str,
        door_event_id: int | None,
        scanner_id: int | None,
        device: Device | None = None,
        gate_id: int | None = None,
        leaving: bool = False,
    ) -> ScanOutcome:
        """Admit the ticket with `code` if it may enter now; record the attempt either way.

        The caller is a staff or admin account (`scanner_id`, the user) or a paired `device`.
        `leaving`: an out-scan at `gate_id` (a re-entry gate makes the ticket active again).
        """
        async with self.drivers.transaction() as db:
            return await self._validate(db, code, door_event_id, scanner_id, device, gate_id, leaving)

    async def _validate(
        self,
        db: DriverConnection,
        code: str,
        door_event_id: int | None,
        scanner_id: int | None,
        device: Device | None,
        gate_id: int | None,
        leaving: bool,
    ) -> ScanOutcome:
        now = utc_now()
        stamp = db.bind_time(now)
        if device is None:
            if scanner_id is None:
                raise AuthenticationFailed
            await require_role(db, scanner_id, SCANNER_ROLES)
        else:
            door_event_id, device_gate = await self._device_event(db, device, door_event_id, now)
            if device_gate is not None:
                if gate_id not in (None, device_gate):
                    raise PermissionDenied("this scanner scans at another gate")
                gate_id = device_gate
        reentry = False
        if gate_id is not None:
            gate = await db.fetchone(SELECT_GATE, (gate_id,))
            if gate is None or door_event_id not in (None, int(gate[0])):
                raise RuleViolation("gate_id is not a gate of this event")
            door_event_id, reentry = int(gate[0]), bool(gate[1])
        elif leaving:
            raise RuleViolation("an out-scan names its gate")
        if leaving:
            return await self._leave(db, code, door_event_id, scanner_id, device, gate_id, reentry, now)
        admitted, row = 0, None
        if looks_like_ticket_code(code):  # anything else was never issued: nothing to look up
            if door_event_id is None:
                admitted = await db.execute(ADMIT, (stamp, stamp, code))
            else:
                admitted = await db.execute(ADMIT_AT_DOOR, (stamp, stamp, code, door_event_id))
            row = await db.fetchone(SELECT_SCANNED, (code,))
        ticket = None
        if row is not None:
            ticket_id, status, event_id, title, event_status, holder, used_at = row
            ticket = ScannedTicket(
                ticket_id, status, event_id, title, event_status, holder, used_at=db.read_time(used_at)
            )
        outcome = scan_outcome(ticket, admitted == 1, door_event_id, now)
        return await self._record(db, code, outcome, door_event_id, scanner_id, device, gate_id)

    async def _scanned(self, db: DriverConnection, code: str) -> ScannedTicket | None:
        row = await db.fetchone(SELECT_SCANNED, (code,))
        if row is None:
            return None
        ticket_id, status, event_id, title, event_status, holder, used_at = row
        return ScannedTicket(
            ticket_id, status, event_id, title, event_status, holder, used_at=db.read_time(used_at)
        )

    async def _leave(
        self,
        db: DriverConnection,
        code: str,
        door_event_id: int | None,
        scanner_id: int | None,
        device: Device | None,
        gate_id: int | None,
        reentry: bool,
        now: dt.datetime,
    ) -> ScanOutcome:
        """An out-scan: a used ticket of the gate's event leaves; at a re-entry gate it becomes
        active again (one conditional UPDATE, so of simultaneous out-scans one wins)."""
        ticket = await self._scanned(db, code)
        left = ticket is not None and ticket.status == TicketStatus.USED and ticket.event_id == door_event_id
        if left and reentry:
            left = await db.execute(LEAVE, (db.bind_time(now), code, door_event_id)) == 1
        if left:
            outcome = ScanOutcome(ScanResult.EXITED, None, ticket, now)
        else:
            outcome = scan_outcome(ticket, False, door_event_id, now)
        return await self._record(db, code, outcome, door_event_id, scanner_id, device, gate_id)

    async def _record(
        self,
        db: DriverConnection,
        code: str,
        outcome: ScanOutcome,
        door_event_id: int | None,
        scanner_id: int | None,
        device: Device | None,
        gate_id: int | None,
    ) -> ScanOutcome:
        """The scan's log row and its gate's counters, in the scan's transaction."""
        ticket = outcome.ticket
        check_in_id = await db.insert(
            RECORD_SCAN,
            (
                ticket.id if ticket else None,
                ticket.event_id if ticket else None,
                door_event_id,
                code[:SCANNED_CODE_MAX],
                outcome.result.value,
                outcome.reason.value if outcome.reason else None,
                scanner_id if device is None else None,
                device.id if device else None,
                gate_id,
                db.bind_time(outcome.scanned_at),
            ),
        )
        if gate_id is not None:
            admitted = int(outcome.result == ScanResult.VALID)
            refused = int(outcome.result in (ScanResult.INVALID, ScanResult.ALREADY_USED))
            inside = admitted - int(outcome.result == ScanResult.EXITED)
            await db.execute(COUNT_AT_GATE, (admitted, refused, inside, inside, gate_id))
        return replace(outcome, check_in_id=check_in_id)

    @staticmethod
    async def _device_event(
        db: DriverConnection, device: Device, door_event_id: int | None, now: dt.datetime
    ) -> tuple[int, int | None]:
        """The event and gate of a paired device that may scan now (revoked or expired: refused
        at once)."""
        row = await db.fetchone(SELECT_DEVICE, (device.id, device.token_digest, db.bind_time(now)))
        if row is None:
            raise AuthenticationFailed("this scanner is revoked or expired")
        event_id, last_seen, gate_id = int(row[0]), db.read_time(row[1]), row[2]
        if door_event_id is not None and door_event_id != event_id:
            raise PermissionDenied("this scanner scans for another event")
        if last_seen is None or last_seen <= now - DEVICE_SEEN_EVERY:
            await db.execute(TOUCH_DEVICE, (db.bind_time(now), device.id))
        return event_id, None if gate_id is None else int(gate_id)


def scan_outcome(
    ticket: ScannedTicket | None, admitted: bool, door_event_id: int | None, now: dt.datetime
) -> ScanOutcome:
    if ticket is None:
        return ScanOutcome(ScanResult.INVALID, InvalidReason.UNKNOWN, None, now)
    if admitted:
        return ScanOutcome(ScanResult.VALID, None, ticket, now)
    reason = invalid_reason(ticket, door_event_id)
    result = ScanResult.ALREADY_USED if reason is None else ScanResult.INVALID
    return ScanOutcome(result, reason, ticket, now)
