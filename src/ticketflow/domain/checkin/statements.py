"""The door's hand-written statements, run on a driver connection in one short transaction.

Door validation is the busiest endpoint on the night of a show (see `service.py` for its rules:
admission is one conditional UPDATE). Its statements are written here and nowhere else, with the
table and column names of the models (`ticketflow.db.sql`), and `DoorStatements` runs them and
answers with plain records: the service sees neither SQL nor the driver. The sync of offline scans
(`sync.py`) works on batches the same way through `SyncStatements`: its statements are written for
one item and widened to a batch by `for_batch` (each `IN (%s)` lists one placeholder per item, each
`WHEN %s THEN %s` and the VALUES row repeat), so the database prepares them as written.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import Enum
from functools import cache
from typing import Any, NamedTuple

from ticketflow.db.base import Base, table_of
from ticketflow.db.driver import DriverConnection, deadlock, duplicate_key, missing_parent
from ticketflow.db.driver_pool import DriverPool
from ticketflow.db.models.checkins import ADMISSIONS, SCANNED_CODE_MAX, CheckIn, InvalidReason, ScanResult
from ticketflow.db.models.events import Event, EventStatus
from ticketflow.db.models.gates import (
    GATE_COUNTER_SLOTS,
    Gate,
    GateCounter,
    Scanner,
    ScannerSync,
    counter_slot,
)
from ticketflow.db.models.ticket_types import TicketType
from ticketflow.db.models.tickets import ReplacedCode, Ticket, TicketStatus, TicketTransfer
from ticketflow.db.models.users import User
from ticketflow.db.sql import PerDialect, Statement, sql
from ticketflow.db.types import from_stored_utc

SELECT_ROLE = sql("SELECT {u.role} FROM {u} WHERE {u.id} = %s", u=User)
"""The scanner's role as it is now: a demoted account is refused at once."""
SELECT_ROLE_AT_GATE = sql(
    "SELECT {u}.{u.role}, {g}.{g.rule_version}, {c}.{c.admitted}, {c}.{c.inside}, {c}.{c.refused}"
    " FROM {u} LEFT JOIN {g} ON {g}.{g.id} = %s LEFT JOIN {c} ON {c}.{c.gate_id} = {g}.{g.id}"
    " WHERE {u}.{u.id} = %s",
    u=User,
    g=Gate,
    c=GateCounter,
)
"""`SELECT_ROLE` at a gate: the role with the version of the gate's rule (`service.GateRuleCache`),
on each of the gate's counter rows (see `CounterRows`)."""
_BY_CODE = "{t.code} = %s"
"""A `tf1.` ticket: found by its code."""
_BY_CLAIMS = "{t.id} = %s AND {t.code_version} = %s AND {t.code} = %s"
"""A `tf2.` ticket: found by the id its signed code carries (its primary key), only at the code's
version, and only when the code is, byte for byte, the one this server issued it. A code of the
ticket's current version signed by another listed key (one that leaked, say) is not that code:
it admits no one, as the sync does not take it either."""


def by_claims(template: str) -> str:
    """The statement `template` (a ticket found by its code) for a signed code instead."""
    if _BY_CODE not in template:  # pragma: no cover - a template written without the ticket's code
        raise ValueError(template)
    return template.replace(_BY_CODE, _BY_CLAIMS)


_ADMIT = (
    "UPDATE {t} SET {t.status} = {used}, {t.used_at} = COALESCE({t.used_at}, %s), {t.updated_at} = %s,"
    " {t.left_at} = NULL"
    " WHERE {t.code} = %s AND {t.status} = {active}"
    " AND {t.event_id} IN (SELECT {e.id} FROM {e} WHERE {e.status} = {scheduled})"
)
_ADMIT_NAMES: dict[str, type[Base] | Enum] = {
    "t": Ticket,
    "e": Event,
    "used": TicketStatus.USED,
    "active": TicketStatus.ACTIVE,
    "scheduled": EventStatus.SCHEDULED,
}
ADMIT = sql(_ADMIT, **_ADMIT_NAMES)
"""`active -> used` in one step: of simultaneous scans of one ticket exactly one matches."""
ADMIT_AT_DOOR = sql(_ADMIT + " AND {t.event_id} = %s", **_ADMIT_NAMES)
ADMIT_SIGNED = sql(by_claims(_ADMIT), **_ADMIT_NAMES)
ADMIT_SIGNED_AT_DOOR = sql(by_claims(_ADMIT) + " AND {t.event_id} = %s", **_ADMIT_NAMES)


@cache
def admit_of_types(count: int, *, signed: bool = False) -> Statement:
    """`ADMIT_AT_DOOR` (`ADMIT_SIGNED_AT_DOOR`) at a gate that admits `count` ticket types (their
    ids follow the event's)."""
    types = ", ".join(["%s"] * count)
    admit = by_claims(_ADMIT) if signed else _ADMIT
    return sql(admit + " AND {t.event_id} = %s AND {t.ticket_type_id} IN (" + types + ")", **_ADMIT_NAMES)


ADMIT_OF_ONE_TYPE = admit_of_types(1)
ADMIT_SIGNED_OF_ONE_TYPE = admit_of_types(1, signed=True)
ATTENDEE_OR_HOLDER = "COALESCE({t}.{t.attendee_name}, {u}.{u.name})"
"""`attendee_or_holder` (db/models/tickets.py) in SQL, for the door's hand statement."""
_SELECT_SCANNED = (
    "SELECT {t}.{t.id}, {t}.{t.status}, {t}.{t.event_id}, {e}.{e.title}, {e}.{e.status}, "
    + ATTENDEE_OR_HOLDER
    + ", {t}.{t.used_at}, {t}.{t.ticket_type_id},"
    " {t}.{t.code_version}, {tt}.{tt.name}, {t}.{t.code}, {t}.{t.order_id}, {t}.{t.user_id},"
    " {t}.{t.created_at}"
    " FROM {t} JOIN {e} ON {e}.{e.id} = {t}.{t.event_id}"
    " JOIN {u} ON {u}.{u.id} = {t}.{t.user_id} JOIN {tt} ON {tt}.{tt.id} = {t}.{t.ticket_type_id}"
    " WHERE {t}."
)
SELECT_SCANNED = sql(_SELECT_SCANNED + "{t.code} = %s", t=Ticket, e=Event, u=User, tt=TicketType)
"""The fields of `ScannedTicket`, in order."""
SELECT_SCANNED_SIGNED = sql(_SELECT_SCANNED + "{t.id} = %s", t=Ticket, e=Event, u=User, tt=TicketType)
"""The same by the ticket id a signed code carries, at whatever version the ticket is now."""
_LEAVE = (
    "UPDATE {t} SET {t.left_at} = %s, {t.updated_at} = %s"
    " WHERE {t.code} = %s AND {t.status} = {used} AND {t.left_at} IS NULL AND {t.event_id} = %s"
)
LEAVE = sql(_LEAVE, t=Ticket, used=TicketStatus.USED)
"""An out-scan: a ticket inside (used, not left since its admission) leaves, and stays used."""
LEAVE_SIGNED = sql(by_claims(_LEAVE), t=Ticket, used=TicketStatus.USED)
_LEAVE_FOR_NOW = (
    "UPDATE {t} SET {t.status} = {active}, {t.left_at} = %s, {t.updated_at} = %s"
    " WHERE {t.code} = %s AND {t.status} = {used} AND {t.left_at} IS NULL AND {t.event_id} = %s"
)
LEAVE_FOR_NOW = sql(_LEAVE_FOR_NOW, t=Ticket, used=TicketStatus.USED, active=TicketStatus.ACTIVE)
"""An out-scan at a re-entry gate: the ticket leaves and is `active` again, so it may come back."""
LEAVE_FOR_NOW_SIGNED = sql(
    by_claims(_LEAVE_FOR_NOW), t=Ticket, used=TicketStatus.USED, active=TicketStatus.ACTIVE
)
_SELECT_ENTRY_GATE = (
    "SELECT {c.gate_id} FROM {c} WHERE {c.ticket_id} = %s AND {c.result} = {valid}"
    " ORDER BY {c.id} DESC LIMIT 1"
)
SELECT_ENTRY_GATE = PerDialect(
    mysql=sql(_SELECT_ENTRY_GATE + " LOCK IN SHARE MODE", c=CheckIn, valid=ScanResult.VALID),
    sqlite=sql(_SELECT_ENTRY_GATE, c=CheckIn, valid=ScanResult.VALID),
)
"""The gate of the ticket's latest admission (the one it is inside by), read after the exit's
`LEAVE` holds the ticket's row. On MariaDB a locking read: it sees the admission as committed now,
where the scan's snapshot (taken by its first read, before it waited for the ticket) may still
show an earlier one, through another gate - whose `inside` the exit would then take one off.
Every scan of a ticket takes the ticket's row before it writes its log row, so no admission of it
is in flight meanwhile. SQLite's one writer held from the scan's first read needs none.

What it costs (exits only, a few milliseconds each): the next-key locks on the `ticket_id` index
hold off, until the exit commits, the first log row of a ticket whose id falls in the gap after
this one's rows; and an exit through a gate being deleted can now close a cycle with the delete
(the delete's `SET NULL` on this admission row against the exit's foreign key checks), which
MariaDB breaks and the exit's retry (`again_if_deadlocked`) answers as a scan after the delete.
Keeping the entry gate on the ticket's own row would need neither: a migration for later."""
SELECT_TRANSFERRED_VERSION = sql(
    "SELECT {x.id} FROM {x} WHERE {x.ticket_id} = %s AND {x.old_version} = %s", x=TicketTransfer
)
"""The transfer that revoked this version of the ticket's code, if one did."""
SELECT_TRANSFERRED_VERSIONS = sql(
    "SELECT {x.ticket_id}, {x.old_version}, {x.transferred_at} FROM {x} WHERE {x.ticket_id} IN (%s)",
    x=TicketTransfer,
)
"""The versions transfers revoked, of a batch's tickets, and when."""
_SELECT_EARLIER_CODES = (
    "SELECT {x.old_code}, {x.ticket_id}, 1 FROM {x} WHERE {x.old_code} IN (%s)"
    " UNION ALL SELECT {r.old_code}, {r.ticket_id}, 0 FROM {r} WHERE {r.old_code} IN (%s)"
)
SELECT_EARLIER_CODE = sql(_SELECT_EARLIER_CODES.replace("IN (%s)", "= %s"), x=TicketTransfer, r=ReplacedCode)
"""The ticket that had this (`tf1.`) code before a transfer (1) or a reissue (0) took it, if one
did: a code is taken once, by one or the other."""
RECORD_SCAN = sql(
    "INSERT INTO {c} ({c.ticket_id}, {c.event_id}, {c.door_event_id}, {c.scanned_code}, {c.result},"
    " {c.reason}, {c.scanned_by_id}, {c.scanner_id}, {c.gate_id}, {c.scanned_at})"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
    c=CheckIn,
)
SELECT_DEVICE = sql(
    "SELECT {s}.{s.event_id}, {s}.{s.last_seen_at}, {s}.{s.gate_id}, {g}.{g.rule_version},"
    " {c}.{c.admitted}, {c}.{c.inside}, {c}.{c.refused}"
    " FROM {s} LEFT JOIN {g} ON {g}.{g.id} = COALESCE({s}.{s.gate_id}, %s)"
    " LEFT JOIN {c} ON {c}.{c.gate_id} = {g}.{g.id}"
    " WHERE {s}.{s.id} = %s AND {s}.{s.token_hash} = %s"
    " AND {s}.{s.revoked_at} IS NULL AND {s}.{s.expires_at} > %s",
    s=Scanner,
    g=Gate,
    c=GateCounter,
)
"""A paired device that may scan now (not revoked, not expired), with the version of the rule of
the gate it scans at (its own, else the one the scan names): the fields of `ScannerDevice`, on
each of that gate's counter rows (see `CounterRows`). The rule itself (`SELECT_GATE`) is read only
when the process does not hold that version of it (`service.GateRuleCache`): its JSON list of
ticket types and its name cost the database and the driver more than the version does."""
TOUCH_DEVICE = sql("UPDATE {s} SET {s.last_seen_at} = %s WHERE {s.id} = %s", s=Scanner)
_SELECT_DEVICE_ROW = "SELECT {s.id} FROM {s} WHERE {s.id} = %s"
SELECT_DEVICE_ROW = sql(_SELECT_DEVICE_ROW, s=Scanner)
"""A device's `scanners` row, to lock it (`LOCK_DEVICE_IF_FREE`, `LOCK_SYNC_SCANNER`)."""
LOCK_DEVICE_IF_FREE = PerDialect(
    mysql=sql(_SELECT_DEVICE_ROW + " FOR UPDATE SKIP LOCKED", s=Scanner), sqlite=SELECT_DEVICE_ROW
)
"""The device's row for `TOUCH_DEVICE`, unless another transaction holds it (MySQL/MariaDB: a
batch of the device's holds it shared; its revocation or its gate's delete, exclusively). SQLite
has no row locks and one writer (`BEGIN IMMEDIATE`): the row is simply read."""


async def touch_device(drivers: DriverPool, device_id: int, now: dt.datetime) -> None:
    """Write the device's `last_seen_at` in a transaction of its own (after a scan's or a batch's
    commit), or skip it while another transaction holds the device's row: it is due again with
    the device's next scan. A write waiting there would hold up the device's next online scans
    (their check-in rows take a shared lock on that row, which waits behind a waiting exclusive
    one) while they hold tickets a batch of the device may wait for: a cycle. Left as well if
    MariaDB made it a deadlock's victim (it never waits, so none is expected): the scan or batch
    before it is committed, and its answer stands."""
    try:
        async with drivers.transaction() as db:
            if await db.fetchall(LOCK_DEVICE_IF_FREE.of(db.is_sqlite), (device_id,)):
                await db.execute(TOUCH_DEVICE, (db.bind_time(now), device_id))
    except Exception as error:
        if not deadlock(error):
            raise


SELECT_GATE = sql(
    "SELECT {g.event_id}, {g.allow_reentry}, {g.ticket_type_ids}, {g.name} FROM {g} WHERE {g.id} = %s",
    g=Gate,
)
COUNT_AT_GATE = sql(
    "UPDATE {c} SET {c.admitted} = {c.admitted} + %s, {c.refused} = {c.refused} + %s,"
    " {c.inside} = {c.inside} + %s WHERE {c.gate_id} = %s AND {c.slot} = %s",
    c=GateCounter,
)
"""Add to one of a gate's counter rows (`counter_slot`)."""
_COUNT_AT_GATE_OF_SCAN = (
    "UPDATE {c} SET {c.admitted} = {c.admitted} + %s, {c.refused} = {c.refused} + %s,"
    " {c.inside} = {c.inside} + %s WHERE {c.gate_id} = %s AND {c.slot} = "
)
COUNT_AT_GATE_OF_SCAN = PerDialect(
    mysql=sql(_COUNT_AT_GATE_OF_SCAN + f"MOD(LAST_INSERT_ID(), {GATE_COUNTER_SLOTS})", c=GateCounter),
    sqlite=sql(_COUNT_AT_GATE_OF_SCAN + f"last_insert_rowid() % {GATE_COUNTER_SLOTS}", c=GateCounter),
)
"""`COUNT_AT_GATE` in the row of the scan-log row just inserted (`counter_slot` of its id), sent
with that INSERT (`DriverConnection.insert_then`)."""


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
    order_id: int
    user_id: int
    """Its holder."""
    created_at: dt.datetime
    ticket_type_id: int = 0
    code_version: int = 1
    ticket_type_name: str = ""
    code: str = ""
    """The code it holds now."""


@dataclass(frozen=True, slots=True)
class TicketKey:
    """How the door finds a scanned ticket: by its `tf1.` code, or by the ticket id and version a
    verified signed code carries (`signed_code`: that code)."""

    code: str | None = None
    ticket_id: int = 0
    version: int = 0
    signed_code: str = ""
    event_id: int = 0
    """The event a verified signed code names (0 for a `tf1.` code: only its ticket knows)."""

    @property
    def signed(self) -> bool:
        return self.code is None

    def params(self) -> tuple[str] | tuple[int, int, str]:
        """The `%s` parameters that find the ticket (`{t.code} = %s`, or its `by_claims` form)."""
        if self.code is not None:
            return (self.code,)
        if not self.signed_code:  # a key made from an id alone finds a ticket to read, never to admit
            msg = "a signed key without its code matches no ticket"
            raise ValueError(msg)
        return self.ticket_id, self.version, self.signed_code


CounterRows = tuple[tuple[int, int, int], ...]
"""A gate's counter rows as the scan's first read saw them, each `(admitted, inside, refused)`:
joined to that read (`SELECT_DEVICE`, `SELECT_ROLE_AT_GATE`) as they are and summed here
(`GateCounters.of_rows`), which costs MariaDB less than a statement of their own, or a `SUM` of
them in the read."""


def counter_rows(rows: Sequence[tuple[Any, ...]]) -> CounterRows:
    """The counter rows a read joined as its last three columns (none: the scan names no gate)."""
    return tuple((row[-3], row[-2], row[-1]) for row in rows if row[-3] is not None)


@dataclass(frozen=True, slots=True)
class ScannerDevice:
    """A paired scanner device that may scan now: its event, gate and when it was last seen."""

    event_id: int
    gate_id: int | None
    last_seen_at: dt.datetime | None
    gate_version: int | None = None
    """The version of the rule (`Gate.rule_version`) of the gate it scans at, its own, else the one
    the scan names (None: no such gate)."""
    counted: CounterRows = ()
    """That gate's counter rows."""


@dataclass(frozen=True, slots=True)
class GateCounters:
    """A gate's counters, as the scan that answers them counts them."""

    id: int
    name: str
    admitted: int
    inside: int
    refused: int

    @classmethod
    def of_rows(
        cls, gate_id: int, name: str, rows: CounterRows, change: GateChange | None = None
    ) -> GateCounters:
        """The sums of the gate's counter `rows`, with `change` when it is this gate's (`inside`
        clamped at zero, as a gate's is)."""
        admitted = inside = refused = 0
        for row_admitted, row_inside, row_refused in rows:
            admitted += row_admitted
            inside += row_inside
            refused += row_refused
        if change is not None and change.gate_id == gate_id:
            admitted += change.admitted
            inside += change.inside
            refused += change.refused
        return cls(gate_id, name, int(admitted), max(0, int(inside)), int(refused))


@dataclass(frozen=True, slots=True)
class GateRule:
    """What a scan at a gate needs of the gate: its rule, and its name for the answer."""

    event_id: int
    allow_reentry: bool
    admits: tuple[int, ...] = ()
    """The ticket types the gate admits; empty: all."""
    name: str = ""


@dataclass(frozen=True, slots=True)
class GateChange:
    """What a scan adds to a gate's counters, and in which of its rows: the device's
    (`counter_slot` of its id), or, with no device, the scan-log row's."""

    gate_id: int
    admitted: int
    refused: int
    inside: int
    device_id: int | None = None


@dataclass(frozen=True, slots=True)
class ScanRecord:
    """One row of the scan log, as the door writes it."""

    code: str
    """The scanned text (cut to the column's length when written)."""
    result: ScanResult
    reason: InvalidReason | None
    ticket: ScannedTicket | None
    door_event_id: int | None
    scanned_by_id: int | None
    scanner_id: int | None
    gate_id: int | None
    scanned_at: dt.datetime


class GateDeleted(Exception):
    """The gate a scan-log row names is gone: deleted, and committed, after the scan read it (its
    foreign key refused the row). The scan's transaction is rolled back with it, whole."""


class DoorStatements:
    """The door's statements on one driver transaction (see `door_transaction`)."""

    __slots__ = ("_db",)

    def __init__(self, db: DriverConnection) -> None:
        self._db = db

    async def role_of(self, user_id: int) -> str | None:
        """The user's role now (None: no such user)."""
        row = await self._db.fetchone(SELECT_ROLE, (user_id,))
        return None if row is None else str(row[0])

    async def role_at_gate(self, user_id: int, gate_id: int) -> tuple[str | None, int | None, CounterRows]:
        """The user's role now (None: no such user), the version of the rule of `gate_id` (None: no
        such gate) and the gate's counter rows."""
        rows = await self._db.fetchall(SELECT_ROLE_AT_GATE, (gate_id, user_id))
        if not rows:
            return None, None, ()
        role, version = rows[0][:2]
        return str(role), None if version is None else int(version), counter_rows(rows)

    async def device(
        self, device_id: int, token_digest: bytes, now: dt.datetime, gate_id: int | None = None
    ) -> ScannerDevice | None:
        """The paired device with this token, if it may scan `now`, with the rule version and the
        counter rows of its gate (with none, of `gate_id`)."""
        db = self._db
        rows = await db.fetchall(SELECT_DEVICE, (gate_id, device_id, token_digest, db.bind_time(now)))
        if not rows:
            return None
        event_id, seen, own_gate, version = rows[0][:4]
        return ScannerDevice(
            int(event_id),
            None if own_gate is None else int(own_gate),
            db.read_time(seen),
            None if version is None else int(version),
            counter_rows(rows),
        )

    async def gate(self, gate_id: int) -> GateRule | None:
        row = await self._db.fetchone(SELECT_GATE, (gate_id,))
        return None if row is None else gate_rule(row)

    async def admit(
        self, key: TicketKey, door_event_id: int | None, now: dt.datetime, types: tuple[int, ...] = ()
    ) -> bool:
        """Mark the ticket of `key` used if it may enter now (at the door of `door_event_id`, if it
        is of one of `types` when some are given)."""
        stamp = self._db.bind_time(now)
        found = key.params()
        if door_event_id is None:
            return await self._db.execute(ADMIT_SIGNED if key.signed else ADMIT, (stamp, stamp, *found)) == 1
        if types:
            statement = admit_of_types(len(types), signed=key.signed)
            return await self._db.execute(statement, (stamp, stamp, *found, door_event_id, *types)) == 1
        statement = ADMIT_SIGNED_AT_DOOR if key.signed else ADMIT_AT_DOOR
        return await self._db.execute(statement, (stamp, stamp, *found, door_event_id)) == 1

    async def leave(self, key: TicketKey, event_id: int, now: dt.datetime, *, reentry: bool) -> bool:
        """The ticket of `key` of `event_id`, inside, leaves (and is active again if `reentry`);
        False if it is not inside (another scan won, or it never came in)."""
        stamp = self._db.bind_time(now)
        if reentry:
            statement = LEAVE_FOR_NOW_SIGNED if key.signed else LEAVE_FOR_NOW
        else:
            statement = LEAVE_SIGNED if key.signed else LEAVE
        return await self._db.execute(statement, (stamp, stamp, *key.params(), event_id)) == 1

    async def entry_gate(self, ticket_id: int) -> int | None:
        """The gate the ticket came in by at its latest admission (None: no gate)."""
        row = await self._db.fetchone(SELECT_ENTRY_GATE.of(self._db.is_sqlite), (ticket_id,))
        return None if row is None or row[0] is None else int(row[0])

    async def scanned_ticket(self, key: TicketKey) -> ScannedTicket | None:
        """The ticket of `key`; for a signed code whatever its version is now (see `code_version`)."""
        if key.signed:
            row = await self._db.fetchone(SELECT_SCANNED_SIGNED, (key.ticket_id,))
        else:
            row = await self._db.fetchone(SELECT_SCANNED, (key.code,))
        if row is None:
            return None
        ticket_id, status, event_id, title, event_status, holder, used_at, type_id, version, name, code = row[
            :11
        ]
        order_id, user_id, created_at = row[11:]
        return ScannedTicket(
            ticket_id,
            status,
            event_id,
            title,
            event_status,
            holder,
            self._db.read_time(used_at),
            int(order_id),
            int(user_id),
            from_stored_utc(created_at),
            type_id,
            int(version),
            name,
            str(code),
        )

    async def transferred_version(self, ticket_id: int, version: int) -> bool:
        """True when a transfer of the ticket revoked the code version `version`."""
        return await self._db.fetchone(SELECT_TRANSFERRED_VERSION, (ticket_id, version)) is not None

    async def earlier_code(self, code: str) -> tuple[int, bool] | None:
        """The ticket a transfer or a reissue took this `tf1.` code from, and whether a transfer
        did (None: the code was never a ticket's)."""
        row = await self._db.fetchone(SELECT_EARLIER_CODE, (code, code))
        return None if row is None else (int(row[1]), bool(row[2]))

    async def record_scan(self, scan: ScanRecord, change: GateChange | None = None) -> int:
        """Write the scan-log row and add `change` to its gate's counters, in one round trip where
        the database allows it; returns the row's id.

        `GateDeleted` when the scan's gate was deleted since the scan read it: on MySQL/MariaDB
        the door reads without locking the gate, and the row's foreign key refuses it (nothing
        after the INSERT runs). SQLite cannot get there: the scan's `BEGIN IMMEDIATE` holds the
        only writer from its first read, so a delete waits for the scan's commit."""
        ticket = scan.ticket
        db = self._db
        row = (
            *logged_scan(ticket, scan.door_event_id, scan.code, scan.result, scan.reason),
            scan.scanned_by_id,
            scan.scanner_id,
            scan.gate_id,
            db.bind_time(scan.scanned_at),
        )
        try:
            if change is None:
                return await db.insert(RECORD_SCAN, row)
            counts: tuple[int, ...] = (change.admitted, change.refused, change.inside, change.gate_id)
            if change.device_id is None:
                count = (COUNT_AT_GATE_OF_SCAN.of(db.is_sqlite), counts)
            else:
                count = (COUNT_AT_GATE, (*counts, counter_slot(change.device_id)))
            check_in_id, _ = await db.insert_then(RECORD_SCAN, row, count)
        except Exception as error:
            if missing_parent(error, CheckIn.__tablename__, "gate_id", Gate.__tablename__):
                raise GateDeleted from error
            raise
        return check_in_id


def logged_scan(
    ticket: ScannedTicket | SyncTicket | None,
    door_event_id: int | None,
    code: str,
    result: ScanResult,
    reason: InvalidReason | None,
) -> tuple[Any, ...]:
    """The first six columns of every scan-log row, online (`RECORD_SCAN`) and offline
    (`RECORD_OFFLINE_SCANS`): ticket, its event, the door's event, the code as scanned (cut to the
    column), result and reason."""
    return (
        ticket.id if ticket else None,
        ticket.event_id if ticket else None,
        door_event_id,
        code[:SCANNED_CODE_MAX],
        result.value,
        reason.value if reason else None,
    )


def gate_rule(row: tuple[Any, ...]) -> GateRule:
    """A gate's event, re-entry, ticket types (a JSON list) and name, as `SELECT_GATE` reads them."""
    event_id, reentry, types, name = row
    found = types if isinstance(types, list) else json.loads(types or "[]")
    return GateRule(int(event_id), bool(reentry), tuple(int(t) for t in found), str(name))


@asynccontextmanager
async def door_transaction(drivers: DriverPool) -> AsyncIterator[DoorStatements]:
    """The door's statements in one transaction: committed on success, rolled back on error."""
    async with drivers.transaction() as db:
        yield DoorStatements(db)


# -- the sync of offline scans ------------------------------------------------------------------

READ_COMMITTED = "SET TRANSACTION ISOLATION LEVEL READ COMMITTED"
"""MySQL/MariaDB: every read of the sync sees what was committed before it (see `sync.py`)."""
SELECT_SYNC_DEVICE = sql(
    "SELECT {s}.{s.event_id}, {s}.{s.gate_id}, {s}.{s.created_at}, {s}.{s.expires_at},"
    " {s}.{s.last_seen_at}, {e}.{e.status} FROM {s} JOIN {e} ON {e}.{e.id} = {s}.{s.event_id}"
    " WHERE {s}.{s.id} = %s AND {s}.{s.token_hash} = %s AND {s}.{s.revoked_at} IS NULL",
    s=Scanner,
    e=Event,
)
"""The fields of `SyncDevice`, with its event's status: read once the device's row is locked
(`LOCK_SYNC_SCANNER`); this read itself locks nothing (the event's row stays unlocked)."""
LOCK_SYNC = sql("SELECT {y.scanner_id} FROM {y} WHERE {y.scanner_id} = %s", y=ScannerSync)
"""The device's sync lock row (made with the device), locked (`FOR UPDATE`): a device's batches
are applied one at a time. Its own online scans never touch the row."""
LOCK_SYNC_SCANNER = SELECT_DEVICE_ROW
"""The device's `scanners` row, read with a shared lock (`LOCK IN SHARE MODE`) held to the commit,
before its event's gates: a scanner's row before a gate's, as the door's scan-log rows take them
(their foreign keys) and as a gate's delete does (it revokes the gate's scanners, then locks the
gate). Shared: the device's online scans take the same lock, and do not wait for the batch."""
SELECT_DEVICE_GATES = sql(
    "SELECT {g.id}, {g.allow_reentry}, {g.ticket_type_ids} FROM {g}"
    " WHERE {g.event_id} = (SELECT {s.event_id} FROM {s} WHERE {s.id} = %s) ORDER BY {g.id}",
    g=Gate,
    s=Scanner,
)
"""The gates of the device's event, in id order. On MySQL/MariaDB read with a shared lock (`LOCK IN
SHARE MODE`) held to the commit: no gate the batch was judged against is deleted before its
scan-log rows, which name it, are written (the delete waits; its scanners' batches after it find
the gate gone). The device's event comes from a subquery (the device's row is locked already:
`LOCK_SYNC_SCANNER`)."""
SELECT_TICKET_IDS = sql("SELECT {t.code}, {t.id} FROM {t} WHERE {t.code} IN (%s)", t=Ticket)
SELECT_EARLIER_CODES = sql(_SELECT_EARLIER_CODES, x=TicketTransfer, r=ReplacedCode)
"""`SELECT_EARLIER_CODE` for a batch: the tickets transfers or reissues took these codes from."""
LOCK_TICKETS = sql(
    "SELECT {t.id}, {t.code}, {t.event_id}, {t.ticket_type_id}, {t.code_version}, {t.status}, {t.left_at},"
    " {t.cancelled_at} FROM {t} WHERE {t.id} IN (%s) ORDER BY {t.id}",
    t=Ticket,
)
"""The fields of `SyncTicket`; locked (`FOR UPDATE`) in id order, the row the door's UPDATE takes."""
SELECT_SENT = sql(
    "SELECT {c.client_id}, {c.id}, {c.ticket_id}, {c.result}, {c.reason} FROM {c}"
    " WHERE {c.scanner_id} = %s AND {c.client_id} IN (%s)",
    c=CheckIn,
)
TICKET_ID_INDEX = next(
    str(index.name) for index in table_of(CheckIn).indexes if [c.name for c in index.columns] == ["ticket_id"]
)
_TIMELINE = (
    "SELECT {c.id}, {c.ticket_id}, {c.result}, {c.scanned_at}, {c.gate_id}, {c.reverts_id} FROM {c}{hint}"
    " WHERE {c.ticket_id} IN (%s) AND {c.result} IN ({valid}, {duplicate}, {exited}, {reverted})"
)
_TIMELINE_NAMES: dict[str, type[Base] | Enum] = {
    "c": CheckIn,
    "valid": ScanResult.VALID,
    "duplicate": ScanResult.DUPLICATE_ADMISSION,
    "exited": ScanResult.EXITED,
    "reverted": ScanResult.REVERTED,
}
SELECT_TIMELINE = PerDialect(
    mysql=sql(_TIMELINE.replace("{hint}", f" FORCE INDEX ({TICKET_ID_INDEX})"), **_TIMELINE_NAMES),
    sqlite=sql(_TIMELINE.replace("{hint}", ""), **_TIMELINE_NAMES),
)
"""The admissions, exits and undos of tickets: the fields of `RecordedScan`. Read by the
`ticket_id` index on MySQL/MariaDB whatever the table's statistics say: with more than 200 ids
(`eq_range_index_dive_limit`) the optimizer trusts statistics that lag behind a growing scan log
and read the whole log (measured: every batch of the offline benchmark). SQLite picks the index
by itself."""
RECORD_OFFLINE_SCANS = sql(
    "INSERT INTO {c} ({c.ticket_id}, {c.event_id}, {c.door_event_id}, {c.scanned_code}, {c.result},"
    " {c.reason}, {c.scanner_id}, {c.gate_id}, {c.scanned_at}, {c.client_id}, {c.offline_result},"
    " {c.synced_at}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
    c=CheckIn,
)
RETURNING_IDS = str(sql(" RETURNING {c.client_id}, {c.id}", c=CheckIn))
"""Appended to `RECORD_OFFLINE_SCANS` where the database has it: the new rows' ids come back with
the INSERT instead of a second look-up by client id. A fragment, not a `Statement`: nothing
prepares it alone."""
REDECIDE = sql(
    "UPDATE {c} SET {c.result} = CASE {c.id} WHEN %s THEN %s END WHERE {c.id} IN (%s)"
    " AND {c.result} IN ({valid}, {duplicate})",
    c=CheckIn,
    valid=ScanResult.VALID,
    duplicate=ScanResult.DUPLICATE_ADMISSION,
)
"""Admissions whose place in their ticket's scan order changed (an earlier scan arrived)."""
MARK_USED = sql(
    "UPDATE {t} SET {t.status} = {used}, {t.used_at} = CASE {t.id} WHEN %s THEN %s END, {t.left_at} = NULL,"
    " {t.updated_at} = %s WHERE {t.id} IN (%s) AND {t.status} IN ({active}, {used})",
    t=Ticket,
    used=TicketStatus.USED,
    active=TicketStatus.ACTIVE,
)
"""Tickets inside after the sync: used since the admission that let them in, not left since."""
MARK_LEFT = sql(
    "UPDATE {t} SET {t.status} = CASE {t.id} WHEN %s THEN %s END,"
    " {t.used_at} = COALESCE({t.used_at}, CASE {t.id} WHEN %s THEN %s END),"
    " {t.left_at} = CASE {t.id} WHEN %s THEN %s END, {t.updated_at} = %s"
    " WHERE {t.id} IN (%s) AND {t.status} IN ({active}, {used})",
    t=Ticket,
    used=TicketStatus.USED,
    active=TicketStatus.ACTIVE,
)
"""Tickets outside after the sync, as the door's out-scan leaves them (`LEAVE`, `LEAVE_FOR_NOW`):
left since their exit, `used`, or `active` again when they left by a re-entry gate; used since
their first admission (kept when the door recorded one)."""
RESULTS: dict[str, ScanResult] = {result.value: result for result in ScanResult}
"""A stored result by its text (a dict look-up: `ScanResult(text)` costs microseconds a row)."""
REASONS: dict[str, InvalidReason] = {reason.value: reason for reason in InvalidReason}
_ONE_ROW = "(" + ", ".join(["%s"] * 12) + ")"


def for_batch(statement: str, count: int) -> str:
    """`statement` (written for one item) for `count` items."""
    text = statement.replace(" IN (%s)", " IN (" + ", ".join(["%s"] * count) + ")")
    text = text.replace("WHEN %s THEN %s", " ".join(["WHEN %s THEN %s"] * count))
    return text.replace("VALUES " + _ONE_ROW, "VALUES " + ", ".join([_ONE_ROW] * count))


class AlreadySent(Exception):
    """A scan of the batch is in the scan log already (its device's client id): the batch was
    sent before, whole or in part. The INSERT that says so is rolled back with its transaction."""


@dataclass(frozen=True, slots=True)
class SyncDevice:
    event_id: int
    gate_id: int | None
    created_at: dt.datetime
    expires_at: dt.datetime
    last_seen_at: dt.datetime | None
    event_status: str = ""


@dataclass(frozen=True, slots=True)
class GateRules:
    allow_reentry: bool
    ticket_type_ids: tuple[int, ...]
    """Empty: every type."""


class SyncTicket(NamedTuple):
    """A ticket a sync batch locked. This and the sync's other per-row records are named tuples:
    a batch makes hundreds of each, and a frozen dataclass takes three times as long to make."""

    id: int
    code: str
    event_id: int
    ticket_type_id: int
    version: int
    status: str
    left_at: dt.datetime | None = None
    cancelled_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class Exit:
    """A ticket outside after a sync."""

    ticket_id: int
    admitted_at: dt.datetime
    """The admission that let it in before it left."""
    left_at: dt.datetime
    reentry: bool
    """It left by a re-entry gate: it may come back."""


class SentScan(NamedTuple):
    """An offline scan already recorded (found by its device's client id)."""

    check_in_id: int
    ticket_id: int | None
    result: ScanResult
    reason: InvalidReason | None


class RecordedScan(NamedTuple):
    """An admission, exit or undo of a ticket, as the scan log holds it."""

    id: int
    ticket_id: int
    result: ScanResult
    scanned_at: dt.datetime
    gate_id: int | None
    reverts_id: int | None


@dataclass(slots=True)
class OfflineRecord:
    """One offline scan's row of the scan log."""

    client_id: str
    code: str
    ticket: SyncTicket | None
    event_id: int
    result: ScanResult
    """Decided by the sync once the batch's place in each ticket's timeline is known."""
    reason: InvalidReason | None
    scanner_id: int
    gate_id: int | None
    scanned_at: dt.datetime
    offline_result: str


@dataclass(frozen=True, slots=True)
class TicketChanges:
    """What a sync writes besides its scan-log rows (see `SyncStatements.write`)."""

    redecided: Sequence[tuple[int, ScanResult]] = ()
    """Admissions' new results: `[(check-in id, valid | duplicate_admission)]`."""
    inside: Sequence[tuple[int, dt.datetime]] = ()
    """Tickets inside: `[(ticket id, the admission's time)]`."""
    outside: Sequence[Exit] = ()
    """Tickets outside, each as it left."""
    at_gates: Sequence[tuple[int, int, int, int, int]] = ()
    """`(gate id, counter slot, admitted, refused, inside)` to add, in gate order."""


Request = tuple[str, Sequence[Any]]


class SyncStatements:
    """The sync's statements on one driver transaction (see `sync_transaction`). A batch takes a
    few requests: the device (`open`), its tickets and their timelines (`lock_tickets`), then
    every write (`write`); on MySQL/MariaDB each is one round trip of several statements."""

    __slots__ = ("_db", "_isolation", "_times")

    def __init__(self, db: DriverConnection) -> None:
        self._db = db
        self._isolation = not db.is_sqlite
        """READ COMMITTED still to be set: sent with the transaction's first request."""
        self._times: dict[int, tuple[dt.datetime, Any]] = {}
        """Times as bound (`_time`), by the time object's id: a scan's time goes into its log row
        and its ticket's row."""

    def _time(self, value: dt.datetime) -> Any:
        """`value` as the driver binds it, formatted once per transaction for the same object
        (formatting a time costs about a microsecond, and a batch binds a thousand; an aware time
        is slower to hash than to look up by id, and the object is kept, so its id is not reused)."""
        known = self._times.get(id(value))
        if known is not None and known[0] is value:
            return known[1]
        bound = self._db.bind_time(value)
        self._times[id(value)] = value, bound
        return bound

    def _locking(self, statement: str, *, shared: bool = False) -> str:
        """`FOR UPDATE` (`shared`: `LOCK IN SHARE MODE`) on MySQL/MariaDB; SQLite holds the whole
        database (`BEGIN IMMEDIATE`)."""
        if self._db.is_sqlite:
            return statement
        return statement + (" LOCK IN SHARE MODE" if shared else " FOR UPDATE")

    async def _each(self, *statements: Request) -> list[list[tuple[Any, ...]]]:
        """Each statement's rows, in one request (`fetch_each`); the transaction's first request
        sets its isolation level first."""
        if not self._isolation:
            return await self._db.fetch_each(*statements)
        self._isolation = False
        return (await self._db.fetch_each((READ_COMMITTED, ()), *statements))[1:]

    async def open(
        self, device_id: int, token_digest: bytes
    ) -> tuple[SyncDevice | None, dict[int, GateRules]]:
        """The paired, unrevoked device with this token, and the gates of its event; the
        device's sync lock and shared locks on its `scanners` row, then on the gates, are held
        until the transaction ends (SQLite: one writer anyway)."""
        db = self._db
        locking: list[Request] = (
            []
            if db.is_sqlite
            else [
                (self._locking(LOCK_SYNC), (device_id,)),
                (self._locking(LOCK_SYNC_SCANNER, shared=True), (device_id,)),
            ]
        )
        *_, found_gates, device = await self._each(  # read once the locks are held: a batch that
            # waited for the device's previous one, or for a gate's delete, sees what changed
            # meanwhile (a cancelled event, a scanner revoked with its gate)
            *locking,
            (self._locking(SELECT_DEVICE_GATES, shared=True), (device_id,)),
            (SELECT_SYNC_DEVICE, (device_id, token_digest)),
        )
        gates = {}
        for gate_id, reentry, type_ids in found_gates:
            ids = json.loads(type_ids) if isinstance(type_ids, (str, bytes)) else type_ids
            gates[int(gate_id)] = GateRules(bool(reentry), tuple(int(i) for i in ids or ()))
        if not device:
            return None, gates
        row = device[0]
        created_at, expires_at = db.read_time(row[2]), db.read_time(row[3])
        if created_at is None or expires_at is None:  # pragma: no cover - NOT NULL columns
            return None, gates
        gate_id = None if row[1] is None else int(row[1])
        return SyncDevice(
            int(row[0]), gate_id, created_at, expires_at, db.read_time(row[4]), str(row[5])
        ), gates

    async def ticket_ids(self, codes: Sequence[str]) -> dict[str, int]:
        """The tickets holding these codes now (not locked: `lock_tickets` re-reads them)."""
        if not codes:
            return {}
        (rows,) = await self._each((for_batch(SELECT_TICKET_IDS, len(codes)), codes))
        return {str(code): int(ticket_id) for code, ticket_id in rows}

    async def earlier_codes(self, codes: Sequence[str]) -> dict[str, tuple[int, bool]]:
        """The tickets transfers or reissues took these `tf1.` codes from, and whether a transfer
        did, by code (a code never a ticket's is left out). Not locked: `lock_tickets` locks them
        with the batch's other tickets."""
        if not codes:
            return {}
        (rows,) = await self._each((for_batch(SELECT_EARLIER_CODES, len(codes)), [*codes, *codes]))
        return {str(code): (int(ticket_id), bool(transferred)) for code, ticket_id, transferred in rows}

    async def lock_tickets(self, ids: Sequence[int]) -> tuple[dict[int, SyncTicket], list[RecordedScan]]:
        """The tickets, locked in id order, and their admissions, exits and undos as recorded
        (read once the locks are held, in the same request)."""
        if not ids:
            return {}, []
        db = self._db
        ordered = sorted(ids)
        timeline = for_batch(SELECT_TIMELINE.of(db.is_sqlite), len(ordered))
        rows, recorded = await self._each(
            (self._locking(for_batch(LOCK_TICKETS, len(ordered))), ordered), (timeline, ordered)
        )
        tickets = {
            int(row[0]): SyncTicket(
                int(row[0]),
                str(row[1]),
                int(row[2]),
                int(row[3]),
                int(row[4]),
                str(row[5]),
                db.read_time(row[6]),
                db.read_time(row[7]),
            )
            for row in rows
        }
        found = []
        for check_in_id, ticket_id, result, scanned_at, gate_id, reverts_id in recorded:
            stamp = db.read_time(scanned_at)
            if stamp is None:  # pragma: no cover - NOT NULL column
                continue
            found.append(
                RecordedScan(
                    int(check_in_id),
                    int(ticket_id),
                    RESULTS[result],
                    stamp,
                    None if gate_id is None else int(gate_id),
                    None if reverts_id is None else int(reverts_id),
                )
            )
        return tickets, found

    async def transferred_versions(
        self, codes: Sequence[tuple[int, int]]
    ) -> dict[tuple[int, int], dt.datetime]:
        """Which of these (ticket id, code version) a transfer revoked, and when (the rest were
        reissued)."""
        if not codes:
            return {}
        ids = sorted({ticket_id for ticket_id, _ in codes})
        (rows,) = await self._each((for_batch(SELECT_TRANSFERRED_VERSIONS, len(ids)), ids))
        asked = set(codes)
        found = {}
        for ticket_id, version, transferred_at in rows:
            key, when = (int(ticket_id), int(version)), self._db.read_time(transferred_at)
            if key in asked and when is not None:
                found[key] = when
        return found

    async def sent(self, scanner_id: int, client_ids: Sequence[str]) -> dict[str, SentScan]:
        (rows,) = await self._each((for_batch(SELECT_SENT, len(client_ids)), [scanner_id, *client_ids]))
        return {
            str(client_id): SentScan(
                int(check_in_id),
                None if ticket_id is None else int(ticket_id),
                RESULTS[result],
                REASONS[reason] if reason else None,
            )
            for client_id, check_in_id, ticket_id, result, reason in rows
        }

    async def write(
        self, records: Sequence[OfflineRecord], now: dt.datetime, changes: TicketChanges
    ) -> dict[str, int] | None:
        """Write the scan-log rows, then `changes`, in one request; returns the rows' ids by client
        id, or None where the database cannot say them in the same statement (MySQL 8: look them
        up with `sent`). `AlreadySent` when a row's client id is in the log already."""
        db = self._db
        writes = [
            request
            for request in (
                self._record(records, now),
                self._redecide(changes.redecided),
                self._mark_used(changes.inside, now),
                self._mark_left(changes.outside, now),
            )
            if request is not None
        ]
        writes += [
            (COUNT_AT_GATE, (admitted, refused, inside, gate_id, slot))
            for gate_id, slot, admitted, refused, inside in changes.at_gates
        ]
        if not writes:
            return {}
        try:
            results = await self._each(*writes)
        except Exception as error:
            if duplicate_key(error, CheckIn.__tablename__, ("scanner_id", "client_id")):
                raise AlreadySent from error
            raise
        if not records:
            return {}
        if not db.returns_inserted_rows:
            return None
        return {str(client_id): int(check_in_id) for client_id, check_in_id in results[0]}

    def _record(self, records: Sequence[OfflineRecord], now: dt.datetime) -> Request | None:
        if not records:
            return None
        db = self._db
        synced_at = self._time(now)
        params: list[Any] = []
        for record in records:
            ticket = record.ticket
            params += [
                *logged_scan(ticket, record.event_id, record.code, record.result, record.reason),
                record.scanner_id,
                record.gate_id,
                self._time(record.scanned_at),
                record.client_id,
                record.offline_result,
                synced_at,
            ]
        statement = for_batch(RECORD_OFFLINE_SCANS, len(records))
        return (statement + RETURNING_IDS if db.returns_inserted_rows else statement), params

    @staticmethod
    def _redecide(decisions: Sequence[tuple[int, ScanResult]]) -> Request | None:
        if not decisions:
            return None
        if any(result not in ADMISSIONS for _, result in decisions):  # pragma: no cover - caller's rule
            msg = "only admissions are re-decided"
            raise ValueError(msg)
        params: list[Any] = [
            value for check_in_id, result in decisions for value in (check_in_id, result.value)
        ]
        ids = [check_in_id for check_in_id, _ in decisions]
        return for_batch(REDECIDE, len(decisions)), [*params, *ids]

    def _mark_used(self, admitted: Sequence[tuple[int, dt.datetime]], now: dt.datetime) -> Request | None:
        if not admitted:
            return None
        time = self._time
        params: list[Any] = [value for ticket_id, at in admitted for value in (ticket_id, time(at))]
        ids = [ticket_id for ticket_id, _ in admitted]
        return for_batch(MARK_USED, len(admitted)), [*params, time(now), *ids]

    def _mark_left(self, exits: Sequence[Exit], now: dt.datetime) -> Request | None:
        if not exits:
            return None
        time = self._time
        statuses: list[Any] = []
        admitted: list[Any] = []
        left: list[Any] = []
        for leaving in exits:
            status = TicketStatus.ACTIVE if leaving.reentry else TicketStatus.USED
            statuses += [leaving.ticket_id, status.value]
            admitted += [leaving.ticket_id, time(leaving.admitted_at)]
            left += [leaving.ticket_id, time(leaving.left_at)]
        ids = [leaving.ticket_id for leaving in exits]
        return for_batch(MARK_LEFT, len(exits)), [*statuses, *admitted, *left, time(now), *ids]


@asynccontextmanager
async def sync_transaction(drivers: DriverPool) -> AsyncIterator[SyncStatements]:
    """The sync's statements in one READ COMMITTED transaction on MySQL/MariaDB (set with its first
    request; SQLite: its one writer), committed on success, rolled back on error."""
    async with drivers.transaction() as db:
        yield SyncStatements(db)
