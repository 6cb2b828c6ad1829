"""The door's statements straight through asyncmy, variant by variant: `python -m bench.door_statements`.

Where a scan's cost lies on MariaDB's side, without HTTP: starts a throwaway MariaDB, seeds one
event with tickets and `--gates` gates of paired devices, then runs each variant's statements on
`--connections` connections at once (one device each, one scan after another, each scan its own
transaction), the variants alternating round by round, and prints MariaDB's CPU and this
process's CPU a scan, with their medians over the rounds.

`plain` is the plain door's transaction (the staff account's role, the admission, the ticket,
the log row) and `gate` the door's at a gate (the device's read with its gate's version and
counter rows, the admission of the gate's types, the ticket, the log row with the counter row's
`UPDATE`), as `ticketflow.domain.checkin.statements` writes them. Every other variant is a
measurement of a part, not a product: the gate's transaction with one thing changed.

    python -m bench.door_statements plain,gate --connections 32 --gates 4
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncmy
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import create_async_engine

from bench.offline_bench import cpu_seconds
from bench.seed import insert_active_tickets, insert_event, insert_gates_with_scanners, insert_users
from ticketflow.db.migrate import upgrade_to_head
from ticketflow.db.models.gates import GATE_COUNTER_SLOTS, Scanner
from ticketflow.db.models.ticket_types import TicketType
from ticketflow.domain.checkin import statements as st

DEVICE_ROW_ALONE = (
    "SELECT event_id, last_seen_at, gate_id FROM scanners"
    " WHERE id = %s AND token_hash = %s AND revoked_at IS NULL AND expires_at > %s"
)
VERSION_ON_COUNTERS = (  # the cost of such a read: `slot` stands in for a version column
    "SELECT scanners.event_id, scanners.last_seen_at, scanners.gate_id, gate_counters.slot,"
    " gate_counters.admitted, gate_counters.inside, gate_counters.refused FROM scanners"
    " LEFT JOIN gate_counters ON gate_counters.gate_id = COALESCE(scanners.gate_id, %s)"
    " WHERE scanners.id = %s AND scanners.token_hash = %s AND scanners.revoked_at IS NULL"
    " AND scanners.expires_at > %s"
)
ONE_COUNTER_ROW = st.SELECT_DEVICE.replace(
    "ON gate_counters.gate_id = gates.id", "ON gate_counters.gate_id = gates.id AND gate_counters.slot = 0"
)
ADMIT_AND_COUNT = (
    "UPDATE tickets JOIN gate_counters ON gate_counters.gate_id = %s AND gate_counters.slot = %s"
    " SET tickets.status = 'used', tickets.used_at = COALESCE(tickets.used_at, %s),"
    " tickets.updated_at = %s, tickets.left_at = NULL,"
    " gate_counters.admitted = gate_counters.admitted + 1, gate_counters.inside = gate_counters.inside + 1"
    " WHERE tickets.code = %s AND tickets.status = 'active'"
    " AND tickets.event_id IN (SELECT id FROM events WHERE status = 'scheduled')"
    " AND tickets.event_id = %s AND tickets.ticket_type_id IN (%s)"
)
TICKET_WITH_DEVICE = st.SELECT_SCANNED.replace(
    " FROM tickets",
    ", scanners.event_id, scanners.last_seen_at, scanners.gate_id, gates.rule_version,"
    " gate_counters.admitted, gate_counters.inside, gate_counters.refused FROM tickets",
).replace(
    " WHERE tickets.code",
    " LEFT JOIN scanners ON scanners.id = %s AND scanners.token_hash = %s"
    " AND scanners.revoked_at IS NULL AND scanners.expires_at > %s"
    " LEFT JOIN gates ON gates.id = COALESCE(scanners.gate_id, %s)"
    " LEFT JOIN gate_counters ON gate_counters.gate_id = gates.id WHERE tickets.code",
)
TICKET_WITH_ROLE = st.SELECT_SCANNED.replace(" FROM tickets", ", caller.role FROM tickets").replace(
    " WHERE tickets.code", " LEFT JOIN users AS caller ON caller.id = %s WHERE tickets.code"
)


@dataclass(frozen=True)
class Lane:
    """One connection's scans: the event, the staff account, the type, and its device and gate."""

    cursor: Any
    event_id: int
    staff_id: int
    type_id: int
    device_id: int
    token_hash: bytes
    gate_id: int

    async def run(self, statement: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        """`statement` (several, `; `-joined, in one request); the rows of the first."""
        await self.cursor.execute(statement, params)
        rows = list(await self.cursor.fetchall())
        while await self.cursor.nextset():
            pass
        return rows

    def log_row(self, ticket_id: int, code: str, now: str, *, staff: bool = False) -> tuple[Any, ...]:
        """`RECORD_SCAN`'s parameters for an admission by the staff account or this lane's device."""
        by = (self.staff_id, None, None) if staff else (None, self.device_id, self.gate_id)
        return (ticket_id, self.event_id, self.event_id, code, "valid", None, *by, now)

    @property
    def count(self) -> tuple[int, ...]:
        """`COUNT_AT_GATE`'s parameters for an admission by this lane's device."""
        return 1, 0, 1, self.gate_id, self.device_id % GATE_COUNTER_SLOTS

    def device_read(self, now: str) -> tuple[Any, ...]:
        return None, self.device_id, self.token_hash, now


Scan = Callable[[Lane, str, str], Awaitable[bool]]
"""One scan's statements on a lane (code, time); True when the scan committed its own transaction."""


async def plain(lane: Lane, code: str, now: str, *, pipelined: bool = False, commit: bool = False) -> bool:
    if pipelined:
        await lane.run(
            st.SELECT_ROLE + "; " + st.ADMIT_AT_DOOR, (lane.staff_id, now, now, code, lane.event_id)
        )
    else:
        await lane.run(st.SELECT_ROLE, (lane.staff_id,))
        await lane.run(st.ADMIT_AT_DOOR, (now, now, code, lane.event_id))
    (ticket, *_) = await lane.run(st.SELECT_SCANNED, (code,))
    await lane.run(
        st.RECORD_SCAN + ("; COMMIT" if commit else ""), lane.log_row(ticket[0], code, now, staff=True)
    )
    return commit


async def plain_ticket_with_role(lane: Lane, code: str, now: str) -> bool:
    await lane.run(st.ADMIT_AT_DOOR, (now, now, code, lane.event_id))
    (ticket, *_) = await lane.run(TICKET_WITH_ROLE, (lane.staff_id, code))
    await lane.run(st.RECORD_SCAN, lane.log_row(ticket[0], code, now, staff=True))
    return False


async def gate(
    lane: Lane,
    code: str,
    now: str,
    *,
    first_read: str = st.SELECT_DEVICE,
    admit: str = st.ADMIT_OF_ONE_TYPE,
    pipelined: bool = False,
    count: bool = True,
    foreign_keys: bool = True,
    commit: bool = False,
) -> bool:
    """The door's transaction at a gate, or one of its parts changed (see the variants)."""
    if first_read == st.SELECT_ROLE:
        read: tuple[Any, ...] = (lane.staff_id,)
    elif first_read == DEVICE_ROW_ALONE:
        read = lane.device_read(now)[1:]
    else:
        read = lane.device_read(now)
    admission = (now, now, code, lane.event_id) + (() if admit == st.ADMIT_AT_DOOR else (lane.type_id,))
    if pipelined:
        await lane.run(first_read + "; " + admit, read + admission)
    else:
        await lane.run(first_read, read)
        await lane.run(admit, admission)
    (ticket, *_) = await lane.run(st.SELECT_SCANNED, (code,))
    row = lane.log_row(ticket[0], code, now)
    if not foreign_keys:
        row = (*row[:7], None, None, now)
    statement, params = str(st.RECORD_SCAN), row
    if count:
        statement, params = statement + "; " + st.COUNT_AT_GATE, (*row, *lane.count)
    await lane.run(statement + ("; COMMIT" if commit else ""), params)
    return commit


async def gate_admit_and_count(lane: Lane, code: str, now: str) -> bool:
    await lane.run(st.SELECT_DEVICE, lane.device_read(now))
    slot = lane.device_id % GATE_COUNTER_SLOTS
    await lane.run(ADMIT_AND_COUNT, (lane.gate_id, slot, now, now, code, lane.event_id, lane.type_id))
    (ticket, *_) = await lane.run(st.SELECT_SCANNED, (code,))
    await lane.run(st.RECORD_SCAN, lane.log_row(ticket[0], code, now))
    return False


async def gate_ticket_with_device(lane: Lane, code: str, now: str) -> bool:
    await lane.run(st.ADMIT_OF_ONE_TYPE, (now, now, code, lane.event_id, lane.type_id))
    (ticket, *_) = await lane.run(TICKET_WITH_DEVICE, (lane.device_id, lane.token_hash, now, None, code))
    await lane.run(
        st.RECORD_SCAN + "; " + st.COUNT_AT_GATE, (*lane.log_row(ticket[0], code, now), *lane.count)
    )
    return False


def _with(scan: Callable[..., Awaitable[bool]], **options: Any) -> Scan:
    async def variant(lane: Lane, code: str, now: str) -> bool:
        return await scan(lane, code, now, **options)

    return variant


VARIANTS: dict[str, Scan] = {
    "plain": plain,
    "gate": gate,
    "plain-pipelined": _with(plain, pipelined=True),
    "gate-pipelined": _with(gate, pipelined=True),
    "plain-commit-in-request": _with(plain, commit=True),
    "gate-commit-in-request": _with(gate, commit=True),
    "plain-ticket-with-role": plain_ticket_with_role,
    "gate-ticket-with-device": gate_ticket_with_device,
    "gate-role-read": _with(gate, first_read=st.SELECT_ROLE),
    "gate-device-row-alone": _with(gate, first_read=DEVICE_ROW_ALONE),
    "gate-one-counter-row": _with(gate, first_read=ONE_COUNTER_ROW),
    "gate-version-on-counters": _with(gate, first_read=VERSION_ON_COUNTERS),
    "gate-no-type-check": _with(gate, admit=st.ADMIT_AT_DOOR),
    "gate-no-counter-write": _with(gate, count=False),
    "gate-no-foreign-keys": _with(gate, foreign_keys=False),
    "gate-admit-and-count": gate_admit_and_count,
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.door_statements", description=__doc__)
    parser.add_argument("variants", help="comma-separated, of: " + ", ".join(VARIANTS))
    parser.add_argument("--connections", type=int, default=8, help="connections at once (default 8)")
    parser.add_argument("--gates", type=int, default=1, help="gates they are spread over (default 1)")
    parser.add_argument("--scans", type=int, default=9_600, help="scans a variant and round (default 9 600)")
    parser.add_argument(
        "--rounds", type=int, default=4, help="rounds, the variants' order reversed every other"
    )
    parser.add_argument(
        "--pad",
        type=int,
        default=0,
        help="widen each counter row by this many 255-byte columns (fewer rows to a page)",
    )
    args = parser.parse_args()
    unknown = [name for name in args.variants.split(",") if name not in VARIANTS]
    if unknown or args.connections % args.gates:
        parser.error(
            f"unknown variants {unknown}" if unknown else "--connections must be a multiple of --gates"
        )
    return args


async def lane_scans(port: int, lane_of: Callable[[Any], Lane], scan: Scan, codes: list[str]) -> None:
    connection = await asyncmy.connect(
        host="127.0.0.1", port=port, user="root", password="root", db="door", autocommit=False
    )
    lane = lane_of(connection.cursor())
    for code in codes:
        now = dt.datetime.now(dt.UTC).isoformat(" ")[:-6]
        if not await scan(lane, code, now):
            await connection.commit()
    connection.close()


async def used_tickets(port: int) -> int:
    connection = await asyncmy.connect(host="127.0.0.1", port=port, user="root", password="root", db="door")
    cursor = connection.cursor()
    await cursor.execute("SELECT COUNT(*) FROM tickets WHERE status = 'used'")
    (count,) = await cursor.fetchone()
    connection.close()
    return int(count)


async def cpu_per_scan(
    database_pid: int, lanes: Sequence[Awaitable[None]], scans: int
) -> tuple[float, float]:
    """MariaDB's and this process's CPU a scan while the lanes run at once."""
    await asyncio.sleep(1)  # the last round's purge and flushes settle
    database, own = cpu_seconds(database_pid), time.process_time()
    await asyncio.gather(*lanes)
    await asyncio.sleep(1.5)  # work MariaDB does after the commits, counted with the round
    return (cpu_seconds(database_pid) - database) * 1e6 / scans, (time.process_time() - own) * 1e6 / scans


async def main(args: argparse.Namespace) -> None:
    from tests.support.mariadb import start_mariadb

    variants = args.variants.split(",")
    per_lane = args.scans // args.connections
    server = start_mariadb()
    try:
        server.sql("CREATE DATABASE door CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        url = server.url("door")
        await asyncio.to_thread(upgrade_to_head, url)
        engine = create_async_engine(url)
        (admin_id,) = await insert_users(engine, 1, "admin", "admin")
        (staff_id,) = await insert_users(engine, 1, "staff", "staff")
        (holder_id,) = await insert_users(engine, 1, "attendee", "holder")
        total = per_lane * args.connections * args.rounds * len(variants)
        event_id = await insert_event(engine, admin_id, total, "Door statements", sold=total)
        codes = await insert_active_tickets(engine, event_id, holder_id, total)
        await insert_gates_with_scanners(engine, event_id, args.gates, args.connections // args.gates)
        async with engine.begin() as connection:
            type_id = int(
                await connection.scalar(select(TicketType.id).where(TicketType.event_id == event_id)) or 0
            )
            devices = (
                await connection.execute(select(Scanner.id, Scanner.token_hash, Scanner.gate_id))
            ).all()
            if args.pad:
                columns = ", ".join(
                    f"ADD COLUMN pad{n} BINARY(255) NOT NULL DEFAULT ''" for n in range(args.pad)
                )
                await connection.execute(text(f"ALTER TABLE gate_counters {columns}"))
        await engine.dispose()

        def lane_of(number: int) -> Callable[[Any], Lane]:
            device_id, token_hash, gate_id = devices[number]
            return lambda cursor: Lane(
                cursor, event_id, staff_id, type_id, device_id, bytes(token_hash or b""), int(gate_id or 0)
            )

        scans = per_lane * args.connections
        figures: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
        for round_number in range(args.rounds):
            for name in variants if round_number % 2 == 0 else variants[::-1]:
                batch, codes = codes[:scans], codes[scans:]
                lanes = [lane_scans(server.port, lane_of(n), VARIANTS[name], batch[n::args.connections])
                         for n in range(args.connections)]  # fmt: skip
                spent = await cpu_per_scan(server.process.pid, lanes, scans)
                figures[name].append(spent)
                print(f"round {round_number + 1} {name}: MariaDB {spent[0]:.0f}, client {spent[1]:.0f} us")
        admitted = await used_tickets(server.port)
        if admitted != scans * args.rounds * len(variants):  # every variant's every scan admits once
            msg = f"{admitted} tickets admitted of {scans * args.rounds * len(variants)} scanned"
            raise RuntimeError(msg)
        print(f"{args.connections} connections, {args.gates} gate(s), {scans} scans a round; medians:")
        for name, spans in figures.items():
            database_us, client_us = (statistics.median(span[part] for span in spans) for part in (0, 1))
            print(f"{name}: MariaDB {database_us:.0f} us, client {client_us:.0f} us a scan")
    finally:
        server.stop()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
