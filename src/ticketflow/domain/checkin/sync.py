"""Offline scans reaching the server: each recorded once, every ticket's admissions in scan order.

A device that lost the network kept scanning on its own (the scanner bundle) and sends its scans
in batches. Each scan carries a `client_id` made by the device; `(scanner_id, client_id)` is
unique in the scan log, so a batch sent again finds its scans instead of storing them twice, and
answers what the server decides about them now. A batch is first taken for new (most are: no
look-up by client id); when that unique key refuses one of its rows, the transaction is rolled
back and the batch applied again with the look-up.

Decisions follow scan time, not arrival: for every ticket a batch touches, the ticket's
admissions (online and offline, undone ones left out) and exits are put in `scanned_at` order and
walked once. The first admission counts (`valid`); an admission while the ticket is already
inside, or after it left through a gate without re-entry (the exit's gate decides, as at the
door, not the gate it comes back by), is a `duplicate_admission` of the
admission that counts. A scan that arrives late and is earlier than an admission already recorded
takes its place: the recorded one is re-decided as the duplicate. What the server answered a door
online is never taken back from the person (they are in); the log says who came in second.

The walk also says where each ticket ends up, and the ticket row is left as the online door would
leave it: inside (`used`, not left), or outside after its last exit (`left_at` set; `active`
again when it left by a re-entry gate, so that the door admits it back).

Codes are decided as the online door decides them, without paying for a signature check where
none is needed. A `tf2.` code naming a key no longer listed is `unknown` (a key removed from
TICKET_SIGNING_KEYS retires its codes here as at the door). Otherwise the code is read for what
it claims: a code claiming another event than the device's locks nothing (`wrong_event` once its
signature verifies, else `unknown`), so a batch of forged codes naming other events' tickets holds
up no one's door. A code claiming the device's event locks the ticket it names, and names it when
the ticket holds exactly this code (the code this server issued it: its signature was ours, and
checking it again would cost about 90 us a scan, as much as the rest of the scan's work). Any
other code of that ticket counts only once its signature verifies: an earlier code of it,
`transferred` when a transfer revoked it, else `unknown`, with the ticket on its log row all the
same, as at the door (the organiser sees a leaked code tried); a forged one names nothing. A
`tf1.` code is looked up by the code; one that no ticket holds is looked up among the codes
transfers took away (one statement for the batch's such codes): `transferred`, as at the door.

An offline scan is judged as the ticket was when it was scanned, not as it is when the batch
comes. A signed code scanned before the transfer that took it away was the ticket's code then: its
admission counts (and the new holder's later admission under the new code is a
`duplicate_admission` of it, in the report). A ticket cancelled after the scan admitted its holder
then: the admission counts too, and the ticket's row stays `cancelled` (the scan log shows an
admission of a ticket cancelled since; its refund, if any, stands). A scan the device refused is
judged as the ticket is: the device knew of the change (`let_through_before`).

Race-free by locks, in one order: the device's sync lock row first (`scanner_syncs`, made with the device: a
device's batches are applied one at a time), then the device's `scanners` row with a shared lock,
then its event's gates, shared and in id order (no gate the batch names is deleted before its log
rows name it), then the batch's tickets by id (`FOR UPDATE`), the same row the door's conditional
UPDATE takes, then the scan-log rows and the device's gate counter rows (in gate order). A
scanner's row before a gate's, everywhere: the door's scan-log row checks its foreign keys in that
order (a shared lock on its scanner's row, then on its gate's), and a gate's delete revokes the
gate's scanners (their rows, exclusively) before it locks the gate. So a delete waits for a batch
that holds the device's row or the gate, and a batch behind a delete reads the device and the
gates once the delete is committed: a scanner revoked with its gate is refused and another gate
named is unknown, as after any delete. The lock on the device's row is shared: the device's own
online scans take the same shared lock through their log rows' foreign key, and neither waits for
the other there (an exclusive lock held while waiting for a ticket an online scan of the device
holds would close a cycle). The device's revocation (alone or with its gate) waits for the
batch's commit; the write of its `last_seen_at` does not wait: it is skipped while the row is held
(`statements.touch_device`), since a write waiting there would queue the device's next online
scans behind it while they hold tickets the batch may wait for. Nothing the door locks has a
foreign key to the sync lock row, and the door waits for nothing after its counter row. The
device's `last_seen_at` (an UPDATE of its scanner row) is written after the commit, in its own
short transaction, and only when due (`DEVICE_SEEN_EVERY`, as at the door). The batch's UPDATE
of its tickets changes no index entry (the tickets are not indexed by status), so it never waits
for online scans of other tickets of the event, which may themselves wait for a gate's delete that
waits for the batch. One cycle is left on MariaDB: an online scan that holds a ticket the batch
names and waits behind such a delete. MariaDB rolls one of them back whole (1213); the batch is
then run again as a fresh transaction (`again_if_deadlocked`, with the time the batch came), as
the door's scans and a gate's delete are (`door.py`), and answers as if it had come after the
others.
Reads run at READ COMMITTED on MySQL/MariaDB so that, once the locks are held, they see every
admission committed before (no snapshot older than the locks, no gap locks between concurrent
inserts). SQLite has one writer at a time (`BEGIN IMMEDIATE`).

A scan the device refused is never an admission: it is recorded `invalid` with the server's
reason, `already_used` when the ticket had been admitted before it, or `invalid`/`refused_offline`
when the server would have admitted it. "Before" is by scan time, among every admission known
once the whole batch is placed, wherever the batch puts them: the answer does not depend on the
order the device sent its scans in.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial

import msgspec

from ticketflow.db.base import utc_now
from ticketflow.db.driver import again_if_deadlocked
from ticketflow.db.driver_pool import DriverPool
from ticketflow.db.models.checkins import ADMISSIONS, InvalidReason, ScanResult
from ticketflow.db.models.events import EventStatus
from ticketflow.db.models.gates import counter_slot
from ticketflow.db.models.tickets import TicketStatus
from ticketflow.domain.checkin.offline_schemas import OfflineScan, SyncedScan
from ticketflow.domain.checkin.service import Device, genuine, not_a_gate, seen_due, ticket_key
from ticketflow.domain.checkin.statements import (
    AlreadySent,
    Exit,
    GateRules,
    OfflineRecord,
    RecordedScan,
    SentScan,
    SyncStatements,
    SyncTicket,
    TicketChanges,
    TicketKey,
    sync_transaction,
    touch_device,
)
from ticketflow.lib.errors import AuthenticationFailed, PermissionDenied, RuleViolation
from ticketflow.lib.i18n import N_
from ticketflow.lib.signed_codes import TicketSigner

CLOCK_SKEW = dt.timedelta(minutes=5)
"""A device's clock may run this far off the server's around its pairing and its expiry. A scan
dated after its batch came is dated when the batch came (`happened_by`): it cannot have happened
later, and refusing it would lose the admission it records."""
SYNC_GRACE = dt.timedelta(hours=24)
"""An expired (not revoked) device may still hand in the scans it made before it expired."""


@dataclass(slots=True)
class Entry:
    """One admission or exit in a ticket's timeline."""

    ticket_id: int
    scanned_at: dt.datetime
    order: tuple[int, int]
    """Ties in time: recorded scans by id (0, id), then this batch's in batch order (1, index)."""
    admission: bool
    gate_id: int | None
    result: ScanResult
    check_in_id: int = 0
    decided: ScanResult | None = None
    first: Entry | None = None
    """For a duplicate: the admission that counts."""


@dataclass(slots=True)
class Door:
    """What the batch is judged against: the device's event and gate, the event's gates."""

    event_id: int
    event_cancelled: bool
    device_gate: int | None
    gates: dict[int, GateRules]
    seen_due: bool = False
    """Whether the device's `last_seen_at` is due (`DEVICE_SEEN_EVERY`)."""
    earlier: dict[str, int] = field(default_factory=dict)
    """The batch's correctly signed earlier codes of its tickets, with their versions."""
    transferred: dict[tuple[int, int], dt.datetime] = field(default_factory=dict)
    """(ticket id, version) of the batch's earlier codes that a transfer revoked, and when."""
    given_away: set[str] = field(default_factory=set)
    """The batch's `tf1.` codes that a transfer took from their tickets."""
    replaced: set[str] = field(default_factory=set)
    """The batch's `tf1.` codes that a reissue took from their tickets."""
    elsewhere: set[str] = field(default_factory=set)
    """The batch's correctly signed codes of another event's tickets (not locked)."""


@dataclass(slots=True)
class Batch:
    records: list[OfflineRecord] = field(default_factory=list)
    entries: dict[str, Entry] = field(default_factory=dict)
    """By client id: this batch's admissions and exits."""
    gate_counts: dict[int, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0]))
    """Per gate: admitted, refused, inside - what its devices did, whatever the server decides."""
    refused: list[tuple[OfflineRecord, int]] = field(default_factory=list)
    """Scans the device refused of tickets the server would let pass, with their ticket: decided
    once every admission of the batch is placed (`already_used` after one, else refused)."""

    def decide_refused(self, timeline: dict[int, list[Entry]]) -> None:
        for record, ticket_id in self.refused:
            if any(e.admission and e.scanned_at <= record.scanned_at for e in timeline[ticket_id]):
                record.result = ScanResult.ALREADY_USED
            else:
                record.reason = InvalidReason.REFUSED_OFFLINE

    def count(self, scan: OfflineScan, gate_id: int | None) -> None:
        if gate_id is None:
            return
        counts = self.gate_counts[gate_id]
        if scan.direction == "out":
            counts[2] -= int(scan.offline_result == "exited")
        elif scan.offline_result == "valid":
            counts[0] += 1
            counts[2] += 1
        else:
            counts[1] += 1


def claimed_keys(signer: TicketSigner, codes: Iterable[str]) -> dict[str, TicketKey | None]:
    """Each code read as the door reads it (`ticket_key`: a signed code for what it claims, its
    signature checked only where no ticket holds it, in `SyncService._tickets`)."""
    return {code: ticket_key(signer, code) for code in codes}


def happened_by(scan: OfflineScan, now: dt.datetime) -> OfflineScan:
    """`scan`, dated `now` at the latest: a phone whose clock runs fast dates its scans ahead of
    the server's time, and a scan cannot have happened after its batch came."""
    return scan if scan.scanned_at <= now else msgspec.structs.replace(scan, scanned_at=now)


class SyncService:
    def __init__(self, drivers: DriverPool, signer: TicketSigner) -> None:
        self.drivers = drivers
        self.signer = signer

    async def sync(self, device: Device, scans: Sequence[OfflineScan]) -> list[SyncedScan]:
        """Record a device's offline scans (each once) and answer the server's decision on each."""
        client_ids = [scan.client_id for scan in scans]
        if len(set(client_ids)) != len(client_ids):
            raise RuleViolation(N_("client_id repeats within the batch"))
        now = utc_now()
        scans = [happened_by(scan, now) for scan in scans]
        keys = claimed_keys(self.signer, {scan.code for scan in scans})

        async def apply(resent: bool) -> tuple[list[SyncedScan], bool]:
            async with sync_transaction(self.drivers) as db:
                return await self._sync(db, device, scans, keys, client_ids, now, resent=resent)

        try:
            synced, seen_due = await again_if_deadlocked(partial(apply, False))
        except AlreadySent:  # once more, finding what was recorded (rolled back: nothing changed)
            synced, seen_due = await again_if_deadlocked(partial(apply, True))
        if seen_due:  # its own short transaction, as at the door
            await touch_device(self.drivers, device.id, now)
        return synced

    async def _sync(
        self,
        db: SyncStatements,
        device: Device,
        scans: Sequence[OfflineScan],
        keys: dict[str, TicketKey | None],
        client_ids: list[str],
        now: dt.datetime,
        *,
        resent: bool,
    ) -> tuple[list[SyncedScan], bool]:
        """The server's decision on each scan, and whether the device's `last_seen_at` is due.
        Unless the batch is known to be `resent`, its scans are taken for new (no look-up by client
        id): recording one that is not raises `AlreadySent`. `now`: when the batch came (the
        same for every attempt, see `sync`)."""
        door = await self._door(db, device, scans, now)
        tickets, holders, timeline = await self._tickets(db, keys, door, self.signer)
        sent = await db.sent(device.id, client_ids) if resent else {}

        batch = Batch()
        for index, scan in enumerate(scans):
            if scan.client_id not in sent:
                self._judge(
                    scan, index, tickets.get(holders.get(scan.code, 0)), door, timeline, batch, device.id
                )
        batch.decide_refused(timeline)
        walked = decide(timeline, door.gates)
        for record in batch.records:
            entry = batch.entries.get(record.client_id)
            if entry is not None and entry.decided is not None:
                record.result = entry.decided
        redecided = {
            entry.check_in_id: entry.decided
            for entries in timeline.values()
            for entry in entries
            if entry.order[0] == 0 and entry.admission and entry.decided not in (None, entry.result)
        }
        changes = TicketChanges(
            redecided=list(redecided.items()),
            inside=[
                (ticket_id, entry.scanned_at)
                for ticket_id, entry in walked.inside.items()
                if tickets[ticket_id].status != TicketStatus.CANCELLED  # admitted before it was: stays so
                and (
                    entry.order[0] == 1
                    or tickets[ticket_id].status != TicketStatus.USED
                    or tickets[ticket_id].left_at is not None
                )
            ],
            outside=[
                Exit(ticket_id, admission.scanned_at, left.scanned_at, reentry(door.gates, left.gate_id))
                for ticket_id, (admission, left) in walked.outside.items()
                if tickets[ticket_id].status != TicketStatus.CANCELLED
                and (left.order[0] == 1 or tickets[ticket_id].left_at is None)
            ],
            at_gates=[  # in gate order, in the counter rows of the device
                (gate_id, counter_slot(device.id), admitted, refused, inside)
                for gate_id, (admitted, refused, inside) in sorted(batch.gate_counts.items())
            ],
        )
        new_ids = await db.write(batch.records, now, changes)
        if new_ids is None:
            sent = await db.sent(device.id, client_ids)
        else:
            sent = now_sent(sent, redecided, batch.records, new_ids)
        for client_id, entry in batch.entries.items():
            entry.check_in_id = sent[client_id].check_in_id
        return [answer(client_id, sent[client_id], timeline) for client_id in client_ids], door.seen_due

    @staticmethod
    async def _door(
        db: SyncStatements, device: Device, scans: Sequence[OfflineScan], now: dt.datetime
    ) -> Door:
        """The device, checked with every scan's time and gate (a bad batch changes nothing), and
        its sync lock taken."""
        found, gates = await db.open(device.id, device.token_digest)
        if found is None:
            raise AuthenticationFailed(N_("this scanner is revoked or unknown"))
        if now >= found.expires_at + SYNC_GRACE:
            raise AuthenticationFailed(N_("this scanner expired"))
        # every scan is dated `now` at the latest already (`happened_by`)
        earliest, latest = found.created_at - CLOCK_SKEW, found.expires_at + CLOCK_SKEW
        for scan in scans:
            if not earliest <= scan.scanned_at <= latest:
                msg = N_("scanned_at lies outside the scanner's life (or in the future)")
                raise RuleViolation(msg, client_id=scan.client_id)
            if found.gate_id is not None and scan.gate_id not in (None, found.gate_id):
                raise PermissionDenied(N_("this scanner scans at another gate"))
            gate_id = found.gate_id if found.gate_id is not None else scan.gate_id
            if gate_id is not None and gate_id not in gates:
                raise not_a_gate(client_id=scan.client_id)
            if scan.direction == "out" and gate_id is None:
                raise RuleViolation(N_("an out-scan names its gate"), client_id=scan.client_id)
        cancelled = found.event_status == EventStatus.CANCELLED
        return Door(found.event_id, cancelled, found.gate_id, gates, seen_due(found.last_seen_at, now))

    @staticmethod
    async def _tickets(
        db: SyncStatements, keys: dict[str, TicketKey | None], door: Door, signer: TicketSigner
    ) -> tuple[dict[int, SyncTicket], dict[str, int], dict[int, list[Entry]]]:
        """The batch's tickets, locked, which ticket each scanned code names (its current holder,
        or the ticket a correctly signed earlier code of it names: to `door.earlier`), and the
        tickets' timelines as recorded.
        `keys`: each code's claims (`claimed_keys`): a `tf2.` code locks its ticket only when it
        claims the device's event (another event's: never locked, and `door.elsewhere` once its
        signature verifies); it names its ticket when it is, byte for byte, the code the ticket
        holds (this server issued it), else only once its signature verifies (an earlier code of
        the ticket, or one signed by another listed key); a forged one names nothing. A `tf1.`
        code is looked up; one no ticket holds names the ticket a transfer (`door.given_away`) or
        a reissue (`door.replaced`) took it from, if one did. Which earlier signed codes a
        transfer revoked goes to `door.transferred` (one statement for the batch)."""
        signed_here: dict[str, TicketKey] = {}
        unsigned: list[str] = []
        for code, key in keys.items():
            if key is None:  # not a code's shape, or signed by a key no longer listed
                continue
            if not key.signed:
                unsigned.append(code)
            elif key.event_id == door.event_id:
                signed_here[code] = key
            elif genuine(signer, code):  # another event's: never locked here
                door.elsewhere.add(code)
        # by the code, not by the id it claims: only a code a ticket holds (this server issued it)
        # or one whose signature verifies names a ticket to lock
        holders = await db.ticket_ids(sorted([*unsigned, *signed_here]))
        claimed = {code: key for code, key in signed_here.items() if code in holders or genuine(signer, code)}
        # a `tf1.` code no ticket holds now: one a transfer or a reissue took away? (one look-up
        # for them all, none for a batch whose codes are all held, as at a door of current codes)
        earlier = await db.earlier_codes(sorted(set(unsigned) - holders.keys()))
        for code, (ticket_id, transferred) in earlier.items():
            (door.given_away if transferred else door.replaced).add(code)
            holders[code] = ticket_id
        ids = {*holders.values(), *(key.ticket_id for key in claimed.values())}
        locked, recorded = await db.lock_tickets(sorted(ids))
        older: list[tuple[int, int]] = []
        for code, key in claimed.items():
            ticket = locked.get(key.ticket_id)
            if ticket is None:
                holders.pop(code, None)
                continue
            if ticket.code != code:  # an earlier code of the ticket, or one signed by another key
                if code in holders and not genuine(signer, code):  # (its code changed meanwhile)
                    holders.pop(code)
                    continue
                door.earlier[code] = key.version
                if key.version < ticket.version:
                    older.append((ticket.id, key.version))
            holders[code] = ticket.id
        named = set(holders.values())
        tickets = {ticket_id: ticket for ticket_id, ticket in locked.items() if ticket_id in named}
        door.transferred = await db.transferred_versions(older)
        return tickets, holders, timeline_of(recorded, tickets)

    def _judge(
        self,
        scan: OfflineScan,
        index: int,
        ticket: SyncTicket | None,
        door: Door,
        timeline: dict[int, list[Entry]],
        batch: Batch,
        scanner_id: int,
    ) -> None:
        """The server's view of one new scan: its record, and its place in its ticket's timeline."""
        gate_id = door.device_gate if door.device_gate is not None else scan.gate_id
        reason = self._refusal(scan, ticket, door, gate_id)
        result = ScanResult.INVALID
        passes = ticket is not None and reason is None
        if ticket is not None and passes and (scan.direction == "out" or scan.offline_result == "valid"):
            leaving = scan.direction == "out"
            result = ScanResult.EXITED if leaving else ScanResult.VALID
            entry = Entry(ticket.id, scan.scanned_at, (1, index), not leaving, gate_id, result)
            batch.entries[scan.client_id] = entry
            timeline[ticket.id].append(entry)
        batch.count(scan, gate_id)
        # an `unknown` scan names no ticket, unless it is a code of one that a reissue replaced (we
        # signed it, or it is a `tf1.` code): the log row names that ticket, as at the door; the
        # answer does not
        named = reason != InvalidReason.UNKNOWN or scan.code in door.earlier or scan.code in door.replaced
        record = OfflineRecord(
            client_id=scan.client_id,
            code=scan.code,
            ticket=ticket if named else None,
            event_id=door.event_id,
            result=result,
            reason=reason,
            scanner_id=scanner_id,
            gate_id=gate_id,
            scanned_at=scan.scanned_at,
            offline_result=scan.offline_result,
        )
        batch.records.append(record)
        if ticket is not None and passes and result == ScanResult.INVALID:
            batch.refused.append((record, ticket.id))  # decided once the batch is placed

    def _refusal(
        self, scan: OfflineScan, ticket: SyncTicket | None, door: Door, gate_id: int | None
    ) -> InvalidReason | None:
        """Why the scanned ticket may not pass (None: it may)."""
        if ticket is None:
            return InvalidReason.WRONG_EVENT if scan.code in door.elsewhere else InvalidReason.UNKNOWN
        if ticket.code != scan.code:  # an earlier code of the ticket (or it changed meanwhile)
            if scan.code in door.given_away:  # a `tf1.` code, as at the door
                return InvalidReason.TRANSFERRED
            version = door.earlier.get(scan.code)
            if version is None:  # not signed by us, a `tf1.` code a reissue replaced (or its ticket
                # lost meanwhile)
                return InvalidReason.UNKNOWN
            # as at the door: `transferred` only when a transfer revoked that version, else a code
            # that was replaced (a reissue) is as if never issued; but a code scanned before its
            # transfer was the ticket's code then, and is judged as the ticket was
            revoked_at = door.transferred.get((ticket.id, version))
            if revoked_at is None:
                return InvalidReason.UNKNOWN
            if not let_through_before(scan, revoked_at):
                return InvalidReason.TRANSFERRED
        if ticket.event_id != door.event_id:
            return InvalidReason.WRONG_EVENT
        if door.event_cancelled:
            return InvalidReason.EVENT_CANCELLED
        if ticket.status == TicketStatus.CANCELLED and not let_through_before(scan, ticket.cancelled_at):
            return InvalidReason.CANCELLED
        if ticket.status == TicketStatus.PENDING:
            return InvalidReason.UNPAID
        allowed = door.gates[gate_id].ticket_type_ids if gate_id is not None else ()
        if allowed and ticket.ticket_type_id not in allowed:
            return InvalidReason.WRONG_GATE
        return None


def let_through_before(scan: OfflineScan, change: dt.datetime | None) -> bool:
    """Whether the device let the ticket through (in or out) before `change` (its transfer or
    cancellation) took the code away: judged as the ticket was then. A scan the device refused
    is judged as the ticket is: the device refused it because it knew of the change, whatever
    the time its clock gave the scan (a phone's clock, corrected by the server's, is still off by
    up to a second or two)."""
    let_through = scan.offline_result in (ScanResult.VALID, ScanResult.EXITED)
    return let_through and change is not None and scan.scanned_at < change


def timeline_of(recorded: list[RecordedScan], tickets: dict[int, SyncTicket]) -> dict[int, list[Entry]]:
    """Per ticket of `tickets`, its admissions (undone ones left out) and exits as recorded."""
    timeline: dict[int, list[Entry]] = defaultdict(list)
    undone = {row.reverts_id for row in recorded if row.result == ScanResult.REVERTED}
    for row in recorded:
        if row.ticket_id not in tickets or row.result == ScanResult.REVERTED or row.id in undone:
            continue
        admission = row.result in ADMISSIONS
        entry = Entry(row.ticket_id, row.scanned_at, (0, row.id), admission, row.gate_id, row.result, row.id)
        timeline[row.ticket_id].append(entry)
    return timeline


def reentry(gates: dict[int, GateRules], gate_id: int | None) -> bool:
    """Whether a ticket that left by `gate_id` may come back (the gate allows re-entry)."""
    rules = gates.get(gate_id) if gate_id is not None else None
    return rules is not None and rules.allow_reentry


def now_sent(
    before: dict[str, SentScan],
    redecided: dict[int, ScanResult],
    records: list[OfflineRecord],
    new_ids: dict[str, int],
) -> dict[str, SentScan]:
    """What a look-up by client id would find after the batch (`sent` again), from what the
    batch wrote: the scans sent before (some re-decided) and the rows just recorded."""
    found = {
        client_id: SentScan(scan.check_in_id, scan.ticket_id, redecided[scan.check_in_id], scan.reason)
        if scan.check_in_id in redecided
        else scan
        for client_id, scan in before.items()
    }
    for record in records:
        ticket_id = record.ticket.id if record.ticket is not None else None
        found[record.client_id] = SentScan(new_ids[record.client_id], ticket_id, record.result, record.reason)
    return found


def answer(client_id: str, sent: SentScan, timeline: dict[int, list[Entry]]) -> SyncedScan:
    duplicate_of = None
    if sent.result == ScanResult.DUPLICATE_ADMISSION and sent.ticket_id is not None:
        for entry in timeline.get(sent.ticket_id, ()):
            if entry.check_in_id == sent.check_in_id and entry.first is not None:
                duplicate_of = entry.first.check_in_id
    return SyncedScan(
        client_id=client_id,
        result=sent.result,
        reason=sent.reason,
        duplicate_of=duplicate_of,
        check_in_id=sent.check_in_id,
    )


@dataclass(slots=True)
class Walked:
    """Where the tickets a batch touched end up once their timelines are walked."""

    inside: dict[int, Entry] = field(default_factory=dict)
    """Tickets inside, with the admission that let them in last."""
    outside: dict[int, tuple[Entry, Entry]] = field(default_factory=dict)
    """Tickets that came in and left: the admission that let them in last, the exit they left by."""


def decide(timeline: dict[int, list[Entry]], gates: dict[int, GateRules]) -> Walked:
    """Walk each ticket's admissions and exits in scan order, deciding each admission; returns
    where the tickets this batch touched end up."""
    walked = Walked()
    for ticket_id, entries in timeline.items():
        entries.sort(key=lambda entry: (entry.scanned_at, entry.order))
        counting: Entry | None = None
        left_by: Entry | None = None
        inside = False
        for entry in entries:
            entry.decided = entry.result
            if not entry.admission:
                if inside:
                    left_by = entry
                inside = False
                continue
            # as at the door: the gate the ticket left by decides whether it may come back
            back = not inside and left_by is not None and reentry(gates, left_by.gate_id)
            if counting is None or back:
                entry.decided, counting, inside, left_by = ScanResult.VALID, entry, True, None
            else:
                entry.decided, entry.first = ScanResult.DUPLICATE_ADMISSION, counting
        if not any(entry.order[0] == 1 for entry in entries):
            continue
        if inside and counting is not None:
            walked.inside[ticket_id] = counting
        elif counting is not None and left_by is not None:
            walked.outside[ticket_id] = counting, left_by
    return walked
