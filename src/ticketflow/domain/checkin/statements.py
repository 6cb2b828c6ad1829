"""The door's hand-written statements, run on a driver connection in one short transaction.

Door validation is the busiest endpoint on the night of a show (see `service.py` for its rules:
admission is one conditional UPDATE). Its statements are written here and nowhere else, with the
table and column names of the models (`ticketflow.db.sql`), and `DoorStatements` runs them and
answers with plain records: the service sees neither SQL nor the driver.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import Enum
from functools import cache
from typing import Any

from ticketflow.db.base import Base
from ticketflow.db.driver import DriverConnection
from ticketflow.db.driver_pool import DriverPool
from ticketflow.db.models.checkins import SCANNED_CODE_MAX, CheckIn, InvalidReason, ScanResult
from ticketflow.db.models.events import Event, EventStatus
from ticketflow.db.models.gates import Gate, Scanner
from ticketflow.db.models.tickets import Ticket, TicketStatus
from ticketflow.db.models.users import User
from ticketflow.db.sql import Statement, sql

SELECT_ROLE = sql("SELECT {u.role} FROM {u} WHERE {u.id} = %s", u=User)
"""The scanner's role as it is now: a demoted account is refused at once."""
_BY_CODE = "{t.code} = %s"
"""A `tf1.` ticket: found by its code."""
_BY_CLAIMS = "{t.id} = %s AND {t.code_version} = %s"
"""A `tf2.` ticket: found by the id its signed code carries, and only at the code's version."""


def by_claims(template: str) -> str:
    """The statement `template` (a ticket found by its code) for a signed code instead."""
    if _BY_CODE not in template:  # pragma: no cover - a template written without the ticket's code
        raise ValueError(template)
    return template.replace(_BY_CODE, _BY_CLAIMS)


_ADMIT = (
    "UPDATE {t} SET {t.status} = {used}, {t.used_at} = %s, {t.updated_at} = %s, {t.left_at} = NULL"
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
_SELECT_SCANNED = (
    "SELECT {t}.{t.id}, {t}.{t.status}, {t}.{t.event_id}, {e}.{e.title}, {e}.{e.status},"
    " COALESCE({t}.{t.attendee_name}, {u}.{u.name}), {t}.{t.used_at}, {t}.{t.ticket_type_id},"
    " {t}.{t.code_version} FROM {t} JOIN {e} ON {e}.{e.id} = {t}.{t.event_id}"
    " JOIN {u} ON {u}.{u.id} = {t}.{t.user_id} WHERE {t}."
)
SELECT_SCANNED = sql(_SELECT_SCANNED + "{t.code} = %s", t=Ticket, e=Event, u=User)
"""The fields of `ScannedTicket`, in order."""
SELECT_SCANNED_SIGNED = sql(_SELECT_SCANNED + "{t.id} = %s", t=Ticket, e=Event, u=User)
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
SELECT_ENTRY_GATE = sql(
    "SELECT {c.gate_id} FROM {c} WHERE {c.ticket_id} = %s AND {c.result} = {valid}"
    " ORDER BY {c.id} DESC LIMIT 1",
    c=CheckIn,
    valid=ScanResult.VALID,
)
"""The gate of the ticket's latest admission (the one it is inside by)."""
RECORD_SCAN = sql(
    "INSERT INTO {c} ({c.ticket_id}, {c.event_id}, {c.door_event_id}, {c.scanned_code}, {c.result},"
    " {c.reason}, {c.scanned_by_id}, {c.scanner_id}, {c.gate_id}, {c.scanned_at})"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
    c=CheckIn,
)
SELECT_DEVICE = sql(
    "SELECT {s}.{s.event_id}, {s}.{s.last_seen_at}, {s}.{s.gate_id},"
    " {g}.{g.event_id}, {g}.{g.allow_reentry}, {g}.{g.ticket_type_ids}"
    " FROM {s} LEFT JOIN {g} ON {g}.{g.id} = {s}.{s.gate_id}"
    " WHERE {s}.{s.id} = %s AND {s}.{s.token_hash} = %s"
    " AND {s}.{s.revoked_at} IS NULL AND {s}.{s.expires_at} > %s",
    s=Scanner,
    g=Gate,
)
"""A paired device that may scan now (not revoked, not expired), with its gate's rule: the
fields of `ScannerDevice` (one statement where a gate-bound device would need two)."""
TOUCH_DEVICE = sql("UPDATE {s} SET {s.last_seen_at} = %s WHERE {s.id} = %s", s=Scanner)
SELECT_GATE = sql(
    "SELECT {g.event_id}, {g.allow_reentry}, {g.ticket_type_ids} FROM {g} WHERE {g.id} = %s", g=Gate
)
SELECT_GATE_COUNTERS = sql(
    "SELECT {g.name}, {g.admitted}, {g.inside}, {g.refused} FROM {g} WHERE {g.id} = %s", g=Gate
)
COUNT_AT_GATE = sql(
    "UPDATE {g} SET {g.admitted} = {g.admitted} + %s, {g.refused} = {g.refused} + %s,"
    " {g.inside} = CASE WHEN {g.inside} + %s < 0 THEN 0 ELSE {g.inside} + %s END WHERE {g.id} = %s",
    g=Gate,
)


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
    ticket_type_id: int = 0
    code_version: int = 1


@dataclass(frozen=True, slots=True)
class TicketKey:
    """How the door finds a scanned ticket: by its `tf1.` code, or by the ticket id and version a
    verified signed code carries."""

    code: str | None = None
    ticket_id: int = 0
    version: int = 0

    @property
    def signed(self) -> bool:
        return self.code is None

    def params(self) -> tuple[str] | tuple[int, int]:
        """The `%s` parameters that find the ticket (`{t.code} = %s`, or its `by_claims` form)."""
        return (self.ticket_id, self.version) if self.code is None else (self.code,)


@dataclass(frozen=True, slots=True)
class ScannerDevice:
    """A paired scanner device that may scan now: its event, gate and when it was last seen."""

    event_id: int
    gate_id: int | None
    last_seen_at: dt.datetime | None
    gate: GateRule | None = None
    """The rule of its gate, if it has one."""


@dataclass(frozen=True, slots=True)
class GateRule:
    """What a scan at a gate needs of the gate."""

    event_id: int
    allow_reentry: bool
    admits: tuple[int, ...] = ()
    """The ticket types the gate admits; empty: all."""


@dataclass(frozen=True, slots=True)
class GateCounters:
    id: int
    name: str
    admitted: int
    inside: int
    refused: int


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


class DoorStatements:
    """The door's statements on one driver transaction (see `door_transaction`)."""

    __slots__ = ("_db",)

    def __init__(self, db: DriverConnection) -> None:
        self._db = db

    async def role_of(self, user_id: int) -> str | None:
        """The user's role now (None: no such user)."""
        row = await self._db.fetchone(SELECT_ROLE, (user_id,))
        return None if row is None else str(row[0])

    async def device(self, device_id: int, token_digest: bytes, now: dt.datetime) -> ScannerDevice | None:
        """The paired device with this token, if it may scan `now`."""
        db = self._db
        row = await db.fetchone(SELECT_DEVICE, (device_id, token_digest, db.bind_time(now)))
        if row is None:
            return None
        gate_id, gate = row[2], None if row[3] is None else gate_rule(row[3:])
        return ScannerDevice(
            int(row[0]), None if gate_id is None else int(gate_id), db.read_time(row[1]), gate
        )

    async def touch_device(self, device_id: int, now: dt.datetime) -> None:
        await self._db.execute(TOUCH_DEVICE, (self._db.bind_time(now), device_id))

    async def gate(self, gate_id: int) -> GateRule | None:
        row = await self._db.fetchone(SELECT_GATE, (gate_id,))
        return None if row is None else gate_rule(row)

    async def gate_counters(self, gate_id: int) -> GateCounters | None:
        row = await self._db.fetchone(SELECT_GATE_COUNTERS, (gate_id,))
        return None if row is None else GateCounters(gate_id, str(row[0]), *(int(n) for n in row[1:]))

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
        row = await self._db.fetchone(SELECT_ENTRY_GATE, (ticket_id,))
        return None if row is None or row[0] is None else int(row[0])

    async def scanned_ticket(self, key: TicketKey) -> ScannedTicket | None:
        """The ticket of `key`; for a signed code whatever its version is now (see `code_version`)."""
        if key.signed:
            row = await self._db.fetchone(SELECT_SCANNED_SIGNED, (key.ticket_id,))
        else:
            row = await self._db.fetchone(SELECT_SCANNED, (key.code,))
        if row is None:
            return None
        ticket_id, status, event_id, title, event_status, holder, used_at, type_id, version = row
        return ScannedTicket(
            ticket_id,
            status,
            event_id,
            title,
            event_status,
            holder,
            self._db.read_time(used_at),
            type_id,
            int(version),
        )

    async def record_scan(self, scan: ScanRecord) -> int:
        """Write the scan-log row; returns its id."""
        ticket = scan.ticket
        return await self._db.insert(
            RECORD_SCAN,
            (
                ticket.id if ticket else None,
                ticket.event_id if ticket else None,
                scan.door_event_id,
                scan.code[:SCANNED_CODE_MAX],
                scan.result.value,
                scan.reason.value if scan.reason else None,
                scan.scanned_by_id,
                scan.scanner_id,
                scan.gate_id,
                self._db.bind_time(scan.scanned_at),
            ),
        )

    async def count_at_gate(self, gate_id: int, *, admitted: int, refused: int, inside: int) -> None:
        """Add to the gate's counters (`inside` never goes below zero)."""
        await self._db.execute(COUNT_AT_GATE, (admitted, refused, inside, inside, gate_id))


def gate_rule(row: tuple[Any, ...]) -> GateRule:
    """A gate's event, re-entry and ticket types (a JSON list), as `SELECT_GATE` reads them."""
    event_id, reentry, types = row
    found = types if isinstance(types, list) else json.loads(types or "[]")
    return GateRule(int(event_id), bool(reentry), tuple(int(t) for t in found))


@asynccontextmanager
async def door_transaction(drivers: DriverPool) -> AsyncIterator[DoorStatements]:
    """The door's statements in one transaction: committed on success, rolled back on error."""
    async with drivers.transaction() as db:
        yield DoorStatements(db)
