"""Door validation: one atomic `active -> used` change per ticket, every scan logged.

The state change is a single conditional UPDATE (`... WHERE code = %s AND status = 'active'`).
Of any number of simultaneous scans of one ticket, across any number of processes, the database
lets exactly one of them match the row; the others see `used` and answer `already_used`.

This is the busiest endpoint on the night of a show: it runs a handful of fixed statements
(`statements.py`) in one short transaction on a driver connection (`ticketflow.db.driver_pool`),
re-reading the scanner's role first so a demoted account is refused at once.

Gates: a gate that admits some ticket types only adds `AND ticket_type_id IN (...)` to the same
UPDATE (a ticket of another type is `invalid`/`wrong_gate`). A used ticket is inside until an
out-scan sets its `left_at`, again one conditional UPDATE (`... AND left_at IS NULL`): a second
out-scan finds it out and is refused as `already_used`, like a second admission. Leaving through
a re-entry gate makes the ticket `active` again, so the next in-scan admits it. A gate counts
its admissions and refusals; `inside` counts the tickets that came in through it and have not
left (through any gate), so the gates' `inside` add up to the people inside.

A gate deleted during a scan that names it: the door does not lock the gate it reads (a statement
more on the busiest path), so on MySQL/MariaDB a delete committed between the scan's read and its
log row makes the row's foreign key refuse it. The scan is then rolled back whole (nothing admitted,
no counter changed) and answered as a scan after the delete is: a device bound to the gate was
revoked with it (401), anyone else names a gate of no event (422). On SQLite the delete cannot come
between: the scan's `BEGIN IMMEDIATE` holds the only writer from its first read to its commit.

A scanned text that does not have the shape of a ticket code (`lib/ticket_codes.py`) is
`invalid`/`unknown` without a look-up: no ticket was ever issued with it. It is still recorded.

A signed `tf2.` code naming a key no longer listed is `unknown` without a look-up. Any other is
read for what it claims, its signature not checked yet: its ticket is found by the id it carries
and admitted only while the ticket holds exactly this code at the code's version (`... WHERE id
= %s AND code_version = %s AND code = %s`) - the code this server issued it, whose signature was
ours, so checking it again (90-180 us of a worker's CPU, as much as a tenth of the scan) proves
nothing more. A code the ticket does not hold counts only once its signature verifies: a reissued
ticket (a transfer) has a new version, and its earlier codes admit no one even though they verify
(their scans are logged with the ticket; the answer to a code a reissue replaced names none); a
forged code names nothing (`unknown`, its log row without a ticket). `tf1.` codes, issued before
signed codes, are found by the code itself, compared byte for byte (a binary NO PAD collation on
MySQL/MariaDB, see `db.types.ExactString`): another case or a trailing space is another code.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from ticketflow.db.base import utc_now
from ticketflow.db.driver import again_if_deadlocked
from ticketflow.db.driver_pool import DriverPool
from ticketflow.db.models.checkins import InvalidReason, ScanResult
from ticketflow.db.models.events import EventStatus
from ticketflow.db.models.tickets import TicketStatus
from ticketflow.db.models.users import Role
from ticketflow.domain.checkin.statements import (
    CounterRows,
    DoorStatements,
    GateChange,
    GateCounters,
    GateDeleted,
    GateRule,
    ScannedTicket,
    ScannerDevice,
    ScanRecord,
    TicketKey,
    door_transaction,
    touch_device,
)
from ticketflow.lib.errors import AuthenticationFailed, PermissionDenied, RuleViolation
from ticketflow.lib.i18n import N_
from ticketflow.lib.roles import check_role
from ticketflow.lib.signed_codes import InvalidSignedCode, TicketSigner
from ticketflow.lib.ticket_codes import is_signed_code, looks_like_ticket_code

SCANNER_ROLES = frozenset({Role.STAFF, Role.ADMIN})
DEVICE_SEEN_EVERY = dt.timedelta(minutes=1)
"""`last_seen_at` is written at most this often per device, not with every scan."""
GATE_RULES_HELD = 1024
"""Gate rules a process holds at most (`GateRuleCache`); past that it forgets them all and reads anew."""


class GateRuleCache:
    """The rules of the gates this process scans at, each at the version it was read at.

    A scan's first read (the device's, or a staff account's role at a gate) names the scanning
    gate's `rule_version` (one more with every change of the gate, in the change's transaction);
    the rule is read again, in the scan's transaction, only when the process holds another
    version. The version and the rule come from the same snapshot, so a held rule is the gate's
    rule at that version: a change of a gate applies from the next scan on, in every process, as
    when the rule was read with every scan."""

    __slots__ = ("_held",)

    def __init__(self) -> None:
        self._held: dict[int, tuple[int, GateRule]] = {}

    async def rule(self, door: DoorStatements, gate_id: int, version: int) -> GateRule | None:
        """The rule of `gate_id` at `version` (None: no such gate)."""
        held = self._held.get(gate_id)
        if held is not None and held[0] == version:
            return held[1]
        rule = await door.gate(gate_id)
        if rule is not None:
            if len(self._held) >= GATE_RULES_HELD:
                self._held.clear()
            self._held[gate_id] = (version, rule)
        return rule


def scanner_refused() -> AuthenticationFailed:
    return AuthenticationFailed(N_("this scanner is revoked or expired"))


def not_a_gate(client_id: str | None = None) -> RuleViolation:
    """A named gate that is no gate of the scan's event (`client_id`: the offline scan naming it)."""
    refusal = N_("gate_id is not a gate of this event")
    return RuleViolation(refusal) if client_id is None else RuleViolation(refusal, client_id=client_id)


def gate_deleted(where: Door) -> AuthenticationFailed | RuleViolation:
    """The answer to a scan whose gate was deleted after the scan read it: the answer of a scan
    after the delete. The delete revoked the scanners bound to the gate; anyone else names a gate
    of no event."""
    return scanner_refused() if where.bound else not_a_gate()


def seen_due(last_seen_at: dt.datetime | None, now: dt.datetime) -> bool:
    """Whether a device's `last_seen_at` is due to be written again (`DEVICE_SEEN_EVERY`)."""
    return last_seen_at is None or last_seen_at <= now - DEVICE_SEEN_EVERY


@dataclass(frozen=True, slots=True)
class Device:
    """A paired scanner device's credentials: its id and the digest of the token it sent."""

    id: int
    token_digest: bytes


@dataclass(frozen=True, slots=True)
class ScanOutcome:
    result: ScanResult
    reason: InvalidReason | None
    ticket: ScannedTicket | None
    scanned_at: dt.datetime
    check_in_id: int = 0
    """The scan-log row of this scan."""
    gate: GateCounters | None = None
    """The scanning gate's counters, this scan counted (see `_record`)."""
    replaced: ScannedTicket | None = None
    """The ticket an earlier, replaced code of it names (a reissue): on the scan-log row, never in
    the answer (which is `unknown`, as if the code had never been issued)."""


@dataclass(frozen=True, slots=True)
class Door:
    """Where a scan happens: the event, and the gate with its rules (if the scan names one)."""

    event_id: int | None
    gate_id: int | None = None
    rule: GateRule | None = None
    counted: CounterRows = ()
    """The gate's counter rows as the scan's first read saw them (see `CheckInService._record`)."""
    bound: bool = False
    """The gate is the scanning device's own: deleting the gate revokes the device."""

    @property
    def admits(self) -> tuple[int, ...]:
        return () if self.rule is None else self.rule.admits


def invalid_reason(
    ticket: ScannedTicket, door_event_id: int | None, admits: tuple[int, ...] = ()
) -> InvalidReason | None:
    """Why a ticket that was not just admitted is refused (None: it was used before)."""
    if door_event_id is not None and ticket.event_id != door_event_id:
        return InvalidReason.WRONG_EVENT
    if ticket.event_status == EventStatus.CANCELLED:
        return InvalidReason.EVENT_CANCELLED
    if ticket.status == TicketStatus.CANCELLED:
        return InvalidReason.CANCELLED
    if ticket.status == TicketStatus.PENDING:
        return InvalidReason.UNPAID
    if admits and ticket.ticket_type_id not in admits:
        return InvalidReason.WRONG_GATE
    return None


def ticket_key(signer: TicketSigner, code: str) -> TicketKey | None:
    """How to find the ticket of a scanned text; None when no ticket can have it (not the shape of
    a code, or a signed code naming a key no longer listed). A signed code is read for what it
    claims, its signature not checked: it admits only the ticket holding exactly it, and names a
    ticket in any other case only once `genuine`."""
    if not looks_like_ticket_code(code):
        return None
    if not is_signed_code(code):
        return TicketKey(code=code)
    claims = signer.claims(code)
    if claims is None:
        return None
    return TicketKey(
        ticket_id=claims.ticket_id, version=claims.version, signed_code=code, event_id=claims.event_id
    )


def genuine(signer: TicketSigner, code: str) -> bool:
    """Whether a signed code's signature verifies under a listed key."""
    try:
        signer.verify(code)
    except InvalidSignedCode:
        return False
    return True


async def scanned(
    door: DoorStatements, key: TicketKey, signer: TicketSigner
) -> tuple[ScannedTicket | None, bool, ScannedTicket | None]:
    """The ticket of a scanned code, whether the code is one it was transferred away with, and
    the ticket a replaced code of it names (for the scan log only).

    A signed code of an earlier version admits no one whatever the ticket's state: `transferred`
    when a transfer revoked that version, else as if it had never been issued (a reissue: the
    answer names no ticket, the log row does). So does a signed code of the current version that
    is not the one this server issued the ticket (signed by another listed key: one that leaked).
    A `tf1.` code no ticket has any more is looked up among the codes transfers and reissues took
    (one statement, only for such a code), and is answered the same way.
    """
    ticket = await door.scanned_ticket(key)
    if key.signed:
        if ticket is None:
            return None, False, None
        if ticket.code_version == key.version and ticket.code == key.signed_code:  # as issued
            return ticket, False, None
        if not genuine(signer, key.signed_code):  # forged: names no ticket
            return None, False, None
        if ticket.code_version == key.version:  # signed by another listed key: one that leaked
            return None, False, ticket
        if await door.transferred_version(ticket.id, key.version):
            return ticket, True, None
        return None, False, ticket
    if ticket is None and key.code is not None:
        earlier = await door.earlier_code(key.code)
        if earlier is not None:
            ticket_id, transferred = earlier
            had = await door.scanned_ticket(TicketKey(ticket_id=ticket_id))
            return (had, True, None) if transferred else (None, False, had)
    return ticket, False, None


def transferred_outcome(ticket: ScannedTicket | None, now: dt.datetime) -> ScanOutcome:
    return ScanOutcome(ScanResult.INVALID, InvalidReason.TRANSFERRED, ticket, now)


class CheckInService:
    def __init__(self, drivers: DriverPool, signer: TicketSigner, gate_rules: GateRuleCache) -> None:
        self.drivers = drivers
        self.signer = signer
        self.gate_rules = gate_rules
        """The process's one cache (`CheckInPlugin.gate_rules`), shared by the API and the back office."""

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

        A scan MariaDB chose as a deadlock's victim (rolled back whole) is run again, as a fresh
        transaction, a few times (`again_if_deadlocked`); its time stays the one it was first
        taken at (the scan happened then: its expiry check and its log row's time do not move).
        """
        now = utc_now()

        async def scan() -> tuple[ScanOutcome, bool]:
            async with door_transaction(self.drivers) as door:
                return await self._validate(
                    door, code, door_event_id, scanner_id, device, gate_id, leaving, now
                )

        outcome, seen = await again_if_deadlocked(scan)
        if device is not None and seen:  # its own short transaction: no device row lock in the scan's
            await touch_device(self.drivers, device.id, now)
        return outcome

    async def _validate(
        self,
        door: DoorStatements,
        code: str,
        door_event_id: int | None,
        scanner_id: int | None,
        device: Device | None,
        gate_id: int | None,
        leaving: bool,
        now: dt.datetime,
    ) -> tuple[ScanOutcome, bool]:
        """The scan's outcome, and whether the device's `last_seen_at` is due."""
        seen, known, version, bound = False, None, None, False
        counted: CounterRows = ()
        if device is None:
            if scanner_id is None:
                raise AuthenticationFailed
            if gate_id is None:
                role = await door.role_of(scanner_id)
            else:
                role, version, counted = await door.role_at_gate(scanner_id, gate_id)
            check_role(role, SCANNER_ROLES)
        else:
            found, seen = await self._device_event(door, device, door_event_id, gate_id, now)
            door_event_id, version, counted = found.event_id, found.gate_version, found.counted
            if found.gate_id is not None:
                if gate_id not in (None, found.gate_id):
                    raise PermissionDenied(N_("this scanner scans at another gate"))
                gate_id, bound = found.gate_id, True
        if gate_id is not None and version is not None:
            known = await self.gate_rules.rule(door, gate_id, version)
        where = await self._door(door, door_event_id, gate_id, leaving, known, counted, bound=bound)
        if leaving:
            return await self._leave(door, code, where, scanner_id, device, now), seen
        admitted, ticket, transferred, replaced = False, None, False, None
        key = ticket_key(self.signer, code)
        if key is not None:  # anything else was never issued: nothing to look up
            admitted = await door.admit(key, where.event_id, now, where.admits)
            ticket, transferred, replaced = await scanned(door, key, self.signer)
        if transferred:
            outcome = transferred_outcome(ticket, now)
        else:
            outcome = scan_outcome(ticket, admitted, where.event_id, now, where.admits, replaced)
        return await self._record(door, code, outcome, where, scanner_id, device), seen

    @staticmethod
    async def _door(
        door: DoorStatements,
        door_event_id: int | None,
        gate_id: int | None,
        leaving: bool,
        known: GateRule | None = None,
        counted: CounterRows = (),
        *,
        bound: bool = False,
    ) -> Door:
        """Where the scan happens: a named gate must be of the scan's event; an out-scan names one.
        `known`: the gate's rule as the process holds it (`GateRuleCache`); `counted`: the gate's
        counter rows, read with the scan's first read; `bound`: the gate is the device's own."""
        if gate_id is None:
            if leaving:
                raise RuleViolation(N_("an out-scan names its gate"))
            return Door(door_event_id)
        gate = known or await door.gate(gate_id)
        if gate is None or door_event_id not in (None, gate.event_id):
            raise not_a_gate()
        return Door(gate.event_id, gate_id, gate, counted, bound)

    async def _leave(
        self,
        door: DoorStatements,
        code: str,
        where: Door,
        scanner_id: int | None,
        device: Device | None,
        now: dt.datetime,
    ) -> ScanOutcome:
        """An out-scan: a ticket inside leaves in one conditional UPDATE, so of simultaneous
        out-scans one wins and the others find it out. Any gate of the event lets a ticket out,
        whatever its type; at a re-entry gate it becomes active again."""
        left, ticket, transferred, replaced = False, None, False, None
        key = ticket_key(self.signer, code)
        if key is not None and where.event_id is not None and where.rule is not None:
            left = await door.leave(key, where.event_id, now, reentry=where.rule.allow_reentry)
            ticket, transferred, replaced = await scanned(door, key, self.signer)
        if transferred:
            outcome = transferred_outcome(ticket, now)
        elif left and ticket is not None:
            outcome = ScanOutcome(ScanResult.EXITED, None, ticket, now)
        else:  # not inside: refused as a second admission is (already_used), or invalid
            outcome = scan_outcome(ticket, False, where.event_id, now, replaced=replaced)
        return await self._record(door, code, outcome, where, scanner_id, device)

    async def _record(
        self,
        door: DoorStatements,
        code: str,
        outcome: ScanOutcome,
        where: Door,
        scanner_id: int | None,
        device: Device | None,
    ) -> ScanOutcome:
        """The scan's log row, then the gate's counters, in the scan's transaction: an admission or
        a refusal counts at the scanning gate, an exit at the gate the ticket came in by.

        The order is what keeps MariaDB free of deadlocks among scans (an exit's read of its entry
        gate can meet a gate's delete: see `SELECT_ENTRY_GATE`) and the devices of a gate from
        taking turns. The log row's INSERT takes shared locks on the rows its foreign keys name (its gate
        among them), and nothing on the door's path locks a `gates` row exclusively. The counters
        are rows of their own (`GateCounter`), which the log has no foreign key to; a scan changes
        one of them in the transaction's last statement, so it holds that lock only until the
        commit and waits for nothing after it. A paired device counts in its own row (its id's
        slot: a device scans one code after another, so the devices of a gate wait for each other
        only when their ids share a slot); a staff account's scan in the row of its log row's id.
        The log row and the counter change go to the database together, in one round trip.

        The answer's counters are the scanning gate's counter rows as the scan's first read saw
        them (joined to the device's read, or to the role's read of a staff account at a gate),
        with this scan's own change added here when it is that gate's (an exit counts at the gate
        the ticket came in by, which need not be the scanning gate): the snapshot the transaction
        reads by, which counts this scan, with no statement of its own. MariaDB's REPEATABLE READ
        fixes that snapshot at the transaction's first consistent read, the joined one; SQLite's
        `BEGIN IMMEDIATE` holds the only writer from the first read to the commit, so nothing
        else changes the rows meanwhile. (A `SUM` of the rows inside the device's read cost
        MariaDB more than the rows themselves; a read after the change, in the request of the log
        row, cost a statement more.)"""
        change = None
        device_id = None if device is None else device.id
        if outcome.result == ScanResult.EXITED and outcome.ticket is not None:
            entry = await door.entry_gate(outcome.ticket.id)
            if entry is not None:
                change = GateChange(entry, 0, 0, -1, device_id)
        elif where.gate_id is not None:
            admitted = int(outcome.result == ScanResult.VALID)
            change = GateChange(where.gate_id, admitted, 1 - admitted, admitted, device_id)
        record = ScanRecord(
            code=code,
            result=outcome.result,
            reason=outcome.reason,
            ticket=outcome.ticket if outcome.ticket is not None else outcome.replaced,
            door_event_id=where.event_id,
            scanned_by_id=scanner_id if device is None else None,
            scanner_id=device_id,
            gate_id=where.gate_id,
            scanned_at=outcome.scanned_at,
        )
        try:
            check_in_id = await door.record_scan(record, change)
        except GateDeleted:  # raised through the scan's transaction: rolled back, nothing admitted
            raise gate_deleted(where) from None
        if where.rule is None or where.gate_id is None:
            return replace(outcome, check_in_id=check_in_id)
        gate = GateCounters.of_rows(where.gate_id, where.rule.name, where.counted, change)
        return replace(outcome, check_in_id=check_in_id, gate=gate)

    @staticmethod
    async def _device_event(
        door: DoorStatements,
        device: Device,
        door_event_id: int | None,
        gate_id: int | None,
        now: dt.datetime,
    ) -> tuple[ScannerDevice, bool]:
        """The paired device, if it may scan now (revoked or expired: refused at once), and
        whether its `last_seen_at` is due; with the counter rows of its gate (with none, of
        `gate_id`, the gate the scan names)."""
        found = await door.device(device.id, device.token_digest, now, gate_id)
        if found is None:
            raise scanner_refused()
        if door_event_id is not None and door_event_id != found.event_id:
            raise PermissionDenied(N_("this scanner scans for another event"))
        return found, seen_due(found.last_seen_at, now)


def scan_outcome(
    ticket: ScannedTicket | None,
    admitted: bool,
    door_event_id: int | None,
    now: dt.datetime,
    admits: tuple[int, ...] = (),
    replaced: ScannedTicket | None = None,
) -> ScanOutcome:
    if ticket is None:
        return ScanOutcome(ScanResult.INVALID, InvalidReason.UNKNOWN, None, now, replaced=replaced)
    if admitted:
        return ScanOutcome(ScanResult.VALID, None, ticket, now)
    reason = invalid_reason(ticket, door_event_id, admits)
    result = ScanResult.ALREADY_USED if reason is None else ScanResult.INVALID
    return ScanOutcome(result, reason, ticket, now)
