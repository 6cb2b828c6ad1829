"""Offline scans reaching the server: each recorded once, every ticket's admissions in scan order.

A device that lost the network kept scanning on its own (the scanner bundle) and sends its scans
in batches. Each scan carries a `client_id` made by the device; `(scanner_id, client_id)` is
unique in the scan log, so a batch sent again finds its scans instead of storing them twice, and
answers what the server decides about them now.

Decisions follow scan time, not arrival: for every ticket a batch touches, the ticket's
admissions (online and offline, undone ones left out) and exits are put in `scanned_at` order and
walked once. The first admission counts (`valid`); an admission while the ticket is already
inside, or after it left through a gate without re-entry, is a `duplicate_admission` of the
admission that counts. A scan that arrives late and is earlier than an admission already recorded
takes its place: the recorded one is re-decided as the duplicate. What the server answered a door
online is never taken back from the person (they are in); the log says who came in second.

Race-free by locks, in one order: the device's scanner row first (a device's batches are applied
one at a time), then the batch's tickets by id (`FOR UPDATE`), the same row the door's
conditional UPDATE takes. Reads run at READ COMMITTED on MySQL/MariaDB so that, once the locks are
held, they see every admission committed before (no snapshot older than the locks, no gap locks
between concurrent inserts). SQLite has one writer at a time (`BEGIN IMMEDIATE`).

A scan the device refused is never an admission: it is recorded `invalid` with the server's
reason, `already_used` when the ticket had been admitted before it, or `invalid`/`refused_offline`
when the server would have admitted it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ticketflow.db.base import utc_now
from ticketflow.db.driver import DriverConnection
from ticketflow.db.driver_pool import DriverPool
from ticketflow.db.models.checkins import SCANNED_CODE_MAX, InvalidReason, ScanResult
from ticketflow.db.models.events import EventStatus
from ticketflow.db.models.tickets import TicketStatus
from ticketflow.domain.checkin.offline_schemas import OfflineScan, SyncedScan
from ticketflow.domain.checkin.service import Device
from ticketflow.lib.errors import AuthenticationFailed, PermissionDenied, RuleViolation
from ticketflow.lib.signed_codes import SIGNED_CODE_PATTERN, InvalidSignedCode, TicketSigner
from ticketflow.lib.ticket_codes import looks_like_ticket_code

CLOCK_SKEW = dt.timedelta(minutes=5)
"""A device's clock may run this far ahead of the server's."""
SYNC_GRACE = dt.timedelta(hours=24)
"""An expired (not revoked) device may still hand in the scans it made before it expired."""

READ_COMMITTED = "SET TRANSACTION ISOLATION LEVEL READ COMMITTED"
LOCK_DEVICE = (
    "SELECT event_id, gate_id, created_at, expires_at, last_seen_at FROM scanners"
    " WHERE id = %s AND token_hash = %s AND revoked_at IS NULL FOR UPDATE"
)
SELECT_EVENT = "SELECT status FROM events WHERE id = %s"
SELECT_GATES = "SELECT id, allow_reentry, ticket_type_ids FROM gates WHERE event_id = %s"
TICKET_COLUMNS = "id, code, event_id, ticket_type_id, code_version, status"
# Fixed text: `{}` takes only a list of `%s` placeholders (`marks`), never a value.
SELECT_TICKETS_BY_CODE = f"SELECT {TICKET_COLUMNS} FROM tickets WHERE code IN ({{}})"  # noqa: S608
LOCK_TICKETS = f"SELECT {TICKET_COLUMNS} FROM tickets WHERE id IN ({{}}) ORDER BY id FOR UPDATE"  # noqa: S608
SELECT_SENT = (
    "SELECT id, client_id, ticket_id, result, reason FROM check_ins"
    " WHERE scanner_id = %s AND client_id IN ({})"
)
SELECT_TIMELINE = (
    "SELECT id, ticket_id, result, scanned_at, gate_id, reverts_id FROM check_ins"
    " WHERE ticket_id IN ({}) AND result IN ('valid', 'duplicate_admission', 'exited', 'reverted')"
)
INSERT_COLUMNS = (
    "ticket_id, event_id, door_event_id, scanned_code, result, reason, scanner_id, gate_id,"
    " scanned_at, client_id, offline_result, synced_at"
)
INSERT_SCANS = f"INSERT INTO check_ins ({INSERT_COLUMNS}) VALUES {{}}"  # noqa: S608
INSERT_ROW = "(" + ", ".join(["%s"] * 12) + ")"
REDECIDE = "UPDATE check_ins SET result = CASE id {} END WHERE id IN ({})"
ADMIT_TICKETS = (
    "UPDATE tickets SET status = 'used', used_at = CASE id {} END, updated_at = %s"
    " WHERE id IN ({}) AND status IN ('active', 'used')"
)
COUNT_AT_GATE = (
    "UPDATE gates SET admitted = admitted + %s, refused = refused + %s,"
    " inside = CASE WHEN inside + %s < 0 THEN 0 ELSE inside + %s END WHERE id = %s"
)
TOUCH_DEVICE = "UPDATE scanners SET last_seen_at = %s WHERE id = %s"
ADMITTING = frozenset({ScanResult.VALID, ScanResult.DUPLICATE_ADMISSION})


def marks(count: int) -> str:
    return ", ".join(["%s"] * count)


@dataclass(slots=True)
class TicketRow:
    id: int
    code: str
    event_id: int
    ticket_type_id: int
    version: int
    status: str


@dataclass(slots=True)
class Entry:
    """One admission or exit in a ticket's timeline."""

    ticket_id: int
    scanned_at: dt.datetime
    order: tuple[int, int]
    """Ties in time: recorded scans by id, then this batch's in batch order."""
    admission: bool
    gate_id: int | None
    result: ScanResult
    check_in_id: int = 0
    decided: ScanResult | None = None
    first: Entry | None = None
    """For a duplicate: the admission that counts."""


@dataclass(slots=True)
class Batch:
    """What one sync request decides, before and after its rows are written."""

    new_rows: list[tuple[OfflineScan, TicketRow | None, ScanResult, InvalidReason | None, int | None]] = (
        field(default_factory=list)
    )
    entries: dict[str, Entry] = field(default_factory=dict)
    """By client id: the admissions and exits of this batch."""


class SyncService:
    def __init__(self, drivers: DriverPool, signer: TicketSigner) -> None:
        self.drivers = drivers
        self.signer = signer

    async def sync(self, device: Device, scans: Sequence[OfflineScan]) -> list[SyncedScan]:
        """Record a device's offline scans (each once) and answer the server's decision on each."""
        client_ids = [scan.client_id for scan in scans]
        if len(set(client_ids)) != len(client_ids):
            raise RuleViolation("client_id repeats within the batch")
        async with self.drivers.transaction() as db:
            return await self._sync(db, device, scans)

    async def _sync(
        self, db: DriverConnection, device: Device, scans: Sequence[OfflineScan]
    ) -> list[SyncedScan]:
        now = utc_now()
        if not db.is_sqlite:
            await db.execute(READ_COMMITTED, ())
        event_id, device_gate = await self._lock_device(db, device, scans, now)
        gates = await self._gates(db, event_id)
        for scan in scans:
            gate_id = scan.gate_id if device_gate is None else device_gate
            if scan.gate_id not in (None, device_gate) and device_gate is not None:
                raise PermissionDenied("this scanner scans at another gate")
            if gate_id is not None and gate_id not in gates:
                raise RuleViolation("gate_id is not a gate of this event")
            if scan.direction == "out" and gate_id is None:
                raise RuleViolation("an out-scan names its gate")
        event_row = await db.fetchone(SELECT_EVENT, (event_id,))
        event_cancelled = event_row is not None and event_row[0] == EventStatus.CANCELLED
        tickets, claimed = await self._tickets(db, scans)
        sent = await self._sent(db, device.id, [scan.client_id for scan in scans])
        timeline = await self._timeline(db, list(tickets))

        batch = Batch()
        for index, scan in enumerate(scans):
            if scan.client_id in sent:
                continue
            gate_id = device_gate if device_gate is not None else scan.gate_id
            ticket, reason = self._judge(scan, tickets, claimed, event_id, event_cancelled, gates, gate_id)
            result = ScanResult.INVALID
            if reason is None and ticket is not None:
                if scan.direction == "out":
                    entry = Entry(ticket.id, scan.scanned_at, (1, index), False, gate_id, ScanResult.EXITED)
                    batch.entries[scan.client_id] = entry
                    timeline[ticket.id].append(entry)
                    result = ScanResult.EXITED
                elif scan.offline_result == "valid":
                    entry = Entry(ticket.id, scan.scanned_at, (1, index), True, gate_id, ScanResult.VALID)
                    batch.entries[scan.client_id] = entry
                    timeline[ticket.id].append(entry)
                    result = ScanResult.VALID
                elif any(e.admission and e.scanned_at <= scan.scanned_at for e in timeline[ticket.id]):
                    result = ScanResult.ALREADY_USED
                else:
                    reason = InvalidReason.REFUSED_OFFLINE
            batch.new_rows.append((scan, ticket, result, reason, gate_id))

        inside_now = decide(timeline, gates)
        await self._insert(db, device.id, event_id, batch, now)
        await self._write_decisions(db, timeline, inside_now, now)
        await self._count_at_gates(db, batch)
        await db.execute(TOUCH_DEVICE, (db.bind_time(now), device.id))
        sent = await self._sent(db, device.id, [scan.client_id for scan in scans])
        for client_id, entry in batch.entries.items():
            entry.check_in_id = int(sent[client_id][0])
        return [self._answer(sent[scan.client_id], timeline) for scan in scans]

    async def _lock_device(
        self, db: DriverConnection, device: Device, scans: Sequence[OfflineScan], now: dt.datetime
    ) -> tuple[int, int | None]:
        row = await db.fetchone(locking(db, LOCK_DEVICE), (device.id, device.token_digest))
        if row is None:
            raise AuthenticationFailed("this scanner is revoked or unknown")
        event_id, gate_id = int(row[0]), None if row[1] is None else int(row[1])
        created_at, expires_at = db.read_time(row[2]), db.read_time(row[3])
        if created_at is None or expires_at is None:  # pragma: no cover - NOT NULL columns
            raise AuthenticationFailed
        if now >= expires_at + SYNC_GRACE:
            raise AuthenticationFailed("this scanner expired")
        earliest, latest = created_at - CLOCK_SKEW, min(now, expires_at) + CLOCK_SKEW
        for scan in scans:
            if not earliest <= scan.scanned_at <= latest:
                msg = "scanned_at lies outside the scanner's life (or in the future)"
                raise RuleViolation(msg, client_id=scan.client_id)
        return event_id, gate_id

    @staticmethod
    async def _gates(db: DriverConnection, event_id: int) -> dict[int, tuple[bool, list[int]]]:
        rows = await db.fetchall(SELECT_GATES, (event_id,))
        gates = {}
        for gate_id, reentry, type_ids in rows:
            ids = json.loads(type_ids) if isinstance(type_ids, (str, bytes)) else type_ids
            gates[int(gate_id)] = (bool(reentry), [int(i) for i in ids or []])
        return gates

    async def _tickets(
        self, db: DriverConnection, scans: Sequence[OfflineScan]
    ) -> tuple[dict[int, TicketRow], dict[str, int]]:
        """The batch's tickets, locked: found by their current code, or by the ticket id a
        correctly signed earlier code names (`claimed`: code -> (ticket id, version))."""
        codes = sorted({scan.code for scan in scans if looks_like_ticket_code(scan.code)})
        current: dict[str, int] = {}
        if codes:
            for row in await db.fetchall(SELECT_TICKETS_BY_CODE.format(marks(len(codes))), codes):
                current[str(row[1])] = int(row[0])
        claimed: dict[str, int] = {}
        for code in codes:
            if code in current or SIGNED_CODE_PATTERN.fullmatch(code) is None:
                continue
            try:
                claims = self.signer.verify(code)
            except InvalidSignedCode:
                continue
            claimed[code] = claims.ticket_id
        ids = sorted({*current.values(), *claimed.values()})
        tickets: dict[int, TicketRow] = {}
        if ids:
            rows = await db.fetchall(locking(db, LOCK_TICKETS.format(marks(len(ids)))), ids)
            for row in rows:
                ticket = TicketRow(
                    int(row[0]), str(row[1]), int(row[2]), int(row[3]), int(row[4]), str(row[5])
                )
                tickets[ticket.id] = ticket
        return tickets, {**current, **claimed}

    def _judge(
        self,
        scan: OfflineScan,
        tickets: dict[int, TicketRow],
        claimed: dict[str, int],
        event_id: int,
        event_cancelled: bool,
        gates: dict[int, tuple[bool, list[int]]],
        gate_id: int | None,
    ) -> tuple[TicketRow | None, InvalidReason | None]:
        """The scanned ticket and why it may not pass (None: it may)."""
        ticket = tickets.get(claimed.get(scan.code, 0))
        if ticket is None:
            return None, InvalidReason.UNKNOWN
        if ticket.code != scan.code:  # an earlier code of the ticket (or it changed meanwhile)
            try:
                version = self.signer.verify(scan.code).version
            except InvalidSignedCode:
                return None, InvalidReason.UNKNOWN
            if version >= ticket.version:  # a version this server never issued
                return None, InvalidReason.UNKNOWN
            return ticket, InvalidReason.TRANSFERRED
        if ticket.event_id != event_id:
            return ticket, InvalidReason.WRONG_EVENT
        if event_cancelled:
            return ticket, InvalidReason.EVENT_CANCELLED
        if ticket.status == TicketStatus.CANCELLED:
            return ticket, InvalidReason.CANCELLED
        if ticket.status == TicketStatus.PENDING:
            return ticket, InvalidReason.UNPAID
        if gate_id is not None:
            allowed = gates[gate_id][1]
            if allowed and ticket.ticket_type_id not in allowed:
                return ticket, InvalidReason.WRONG_GATE
        return ticket, None

    @staticmethod
    async def _sent(
        db: DriverConnection, scanner_id: int, client_ids: list[str]
    ) -> dict[str, tuple[Any, ...]]:
        rows = await db.fetchall(SELECT_SENT.format(marks(len(client_ids))), [scanner_id, *client_ids])
        return {str(row[1]): row for row in rows}

    @staticmethod
    async def _timeline(db: DriverConnection, ticket_ids: list[int]) -> dict[int, list[Entry]]:
        """Per ticket, its admissions (undone ones left out) and exits as recorded."""
        timeline: dict[int, list[Entry]] = defaultdict(list)
        if not ticket_ids:
            return timeline
        rows = await db.fetchall(SELECT_TIMELINE.format(marks(len(ticket_ids))), ticket_ids)
        undone = {int(row[5]) for row in rows if row[2] == ScanResult.REVERTED}
        for check_in_id, ticket_id, result, scanned_at, gate_id, _ in rows:
            if result == ScanResult.REVERTED or check_in_id in undone:
                continue
            stamp = db.read_time(scanned_at)
            assert stamp is not None  # noqa: S101 - NOT NULL column
            timeline[int(ticket_id)].append(
                Entry(
                    int(ticket_id),
                    stamp,
                    (0, int(check_in_id)),
                    result != ScanResult.EXITED,
                    None if gate_id is None else int(gate_id),
                    ScanResult(result),
                    check_in_id=int(check_in_id),
                )
            )
        return timeline

    @staticmethod
    async def _insert(
        db: DriverConnection, scanner_id: int, event_id: int, batch: Batch, now: dt.datetime
    ) -> None:
        if not batch.new_rows:
            return
        stamp = db.bind_time(now)
        params: list[Any] = []
        for scan, ticket, result, reason, gate_id in batch.new_rows:
            entry = batch.entries.get(scan.client_id)
            decided = entry.decided if entry is not None and entry.decided is not None else result
            params += [
                ticket.id if ticket else None,
                ticket.event_id if ticket else None,
                event_id,
                scan.code[:SCANNED_CODE_MAX],
                decided.value,
                reason.value if reason else None,
                scanner_id,
                gate_id,
                db.bind_time(scan.scanned_at),
                scan.client_id,
                scan.offline_result,
                stamp,
            ]
        await db.execute(INSERT_SCANS.format(", ".join([INSERT_ROW] * len(batch.new_rows))), params)

    @staticmethod
    async def _write_decisions(
        db: DriverConnection,
        timeline: dict[int, list[Entry]],
        inside_now: dict[int, Entry],
        now: dt.datetime,
    ) -> None:
        """Recorded scans whose decision changed, and tickets now inside."""
        changed = [
            entry
            for entries in timeline.values()
            for entry in entries
            if entry.order[0] == 0 and entry.admission and entry.decided != entry.result
        ]
        if changed:
            cases = " ".join(["WHEN %s THEN %s"] * len(changed))
            params: list[Any] = []
            for entry in changed:
                params += [entry.check_in_id, (entry.decided or entry.result).value]
            ids = [entry.check_in_id for entry in changed]
            await db.execute(REDECIDE.format(cases, marks(len(ids))), [*params, *ids])
        if inside_now:
            cases = " ".join(["WHEN %s THEN %s"] * len(inside_now))
            params = []
            for ticket_id, entry in inside_now.items():
                params += [ticket_id, db.bind_time(entry.scanned_at)]
            ids = list(inside_now)
            await db.execute(ADMIT_TICKETS.format(cases, marks(len(ids))), [*params, db.bind_time(now), *ids])

    @staticmethod
    async def _count_at_gates(db: DriverConnection, batch: Batch) -> None:
        """A gate's counters follow what its device did: admitted, refused or let out."""
        counts: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
        for scan, _, _, _, gate_id in batch.new_rows:
            if gate_id is None:
                continue
            if scan.direction == "out":
                counts[gate_id][2] -= int(scan.offline_result == "exited")
            elif scan.offline_result == "valid":
                counts[gate_id][0] += 1
                counts[gate_id][2] += 1
            else:
                counts[gate_id][1] += 1
        for gate_id, (admitted, refused, inside) in sorted(counts.items()):
            await db.execute(COUNT_AT_GATE, (admitted, refused, inside, inside, gate_id))

    @staticmethod
    def _answer(row: tuple[Any, ...], timeline: dict[int, list[Entry]]) -> SyncedScan:
        check_in_id, client_id, ticket_id, result, reason = row
        duplicate_of = None
        if result == ScanResult.DUPLICATE_ADMISSION and ticket_id is not None:
            for entry in timeline.get(int(ticket_id), ()):
                if entry.check_in_id == check_in_id and entry.first is not None:
                    duplicate_of = entry.first.check_in_id
        return SyncedScan(
            client_id=str(client_id),
            result=ScanResult(result),
            reason=InvalidReason(reason) if reason else None,
            duplicate_of=duplicate_of,
            check_in_id=int(check_in_id),
        )


def decide(timeline: dict[int, list[Entry]], gates: dict[int, tuple[bool, list[int]]]) -> dict[int, Entry]:
    """Walk each ticket's admissions and exits in scan order; returns the tickets whose walk ends
    inside, with the admission that let them in last."""
    inside_now: dict[int, Entry] = {}
    for ticket_id, entries in timeline.items():
        entries.sort(key=lambda entry: (entry.scanned_at, entry.order))
        counting: Entry | None = None
        inside = False
        for entry in entries:
            if not entry.admission:
                inside = False if counting is not None else inside
                entry.decided = entry.result
                continue
            reentry = entry.gate_id is not None and gates.get(entry.gate_id, (False, []))[0]
            if counting is None or (not inside and reentry):
                entry.decided, counting, inside = ScanResult.VALID, entry, True
            else:
                entry.decided, entry.first = ScanResult.DUPLICATE_ADMISSION, counting
        if inside and counting is not None and any(entry.order[0] == 1 for entry in entries):
            inside_now[ticket_id] = counting
    return inside_now


def locking(db: DriverConnection, statement: str) -> str:
    """`FOR UPDATE` on MySQL/MariaDB; SQLite locks the whole database for the transaction."""
    return statement.removesuffix(" FOR UPDATE") if db.is_sqlite else statement
