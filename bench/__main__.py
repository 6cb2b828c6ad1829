"""Door validation and flash-sale benchmarks against MariaDB: `python -m bench` (or `make bench`).

Starts a throwaway MariaDB from the installed binaries (or uses `--mysql-url`), migrates it,
seeds it, serves the app with uvicorn on loopback, drives it with a keep-alive load generator,
then runs the same SQL statements straight through asyncmy at the same concurrency and prints
both, with the ratio app/raw. The flash sale is run again on an event with three ticket types
(one capped, one hidden behind a voucher) and mixed orders, with its rate over the single-type
sale's. Figures go to docs/PERFORMANCE.md by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.loadgen import LoadResult, Request, run_lanes, run_load
from bench.raw import purchase_transaction, run_raw, validation_transaction
from bench.seed import (
    insert_active_tickets,
    insert_event,
    insert_gates_with_scanners,
    insert_ticket_type,
    insert_users,
    insert_voucher,
    mint_token,
)
from ticketflow.db.config import create_engine
from ticketflow.db.migrate import upgrade_to_head
from ticketflow.db.models.events import Event
from ticketflow.db.models.gates import Gate, GateCounter
from ticketflow.db.models.ticket_types import TicketType
from ticketflow.db.models.tickets import Ticket
from ticketflow.db.models.vouchers import Voucher
from ticketflow.settings import Settings

SECRET = "bench-secret-" + "b" * 40


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--mysql-url", help="an empty MySQL/MariaDB database (default: start one)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (default 32)")
    parser.add_argument("--scans", type=int, default=20_000, help="distinct tickets scanned")
    parser.add_argument("--buyers", type=int, default=5_000, help="flash-sale buyers")
    parser.add_argument("--capacity", type=int, default=1_000, help="flash-sale capacity")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--rounds", type=int, default=3, help="alternating plain/gates door runs (default 3)")
    parser.add_argument("--gates", type=int, default=4, help="gates in the gates run (default 4)")
    parser.add_argument("--only", choices=["validate", "gates", "flash"], help="run one scenario")
    parser.add_argument(
        "--shared-queue",
        action="store_true",
        help="gates scenario: every client takes the next scan of one shared queue (so two clients "
        "may send one device's scans at once) instead of each client being one device",
    )
    args = parser.parse_args()
    if args.gates < 1 or args.clients % args.gates:
        parser.error(
            "--clients must be a multiple of --gates: each client is one device, as many at each gate"
        )
    return args


def start_server(url: str, workers: int, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    from tests.support.live import server_environment, uvicorn_command
    from tests.support.mariadb import free_port

    port = free_port()
    env = server_environment(
        url,
        JWT_SECRET=SECRET,
        DATABASE_POOL_SIZE="40",
        DATABASE_MAX_OVERFLOW="20",
        DATABASE_HOT_POOL_SIZE="40",
    )
    command = uvicorn_command(port, "--workers", str(workers), "--loop", "uvloop", "--http", "httptools")
    process = subprocess.Popen(
        command,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    return process, f"http://127.0.0.1:{port}"


async def wait_ready(base_url: str) -> None:
    for _ in range(300):
        try:
            result = await run_load(base_url, [("GET", "/ready", {}, b"")], 1)
            if result.statuses.get(200):
                return
        except OSError:
            pass
        await asyncio.sleep(0.1)
    msg = "server not ready"
    raise RuntimeError(msg)


async def count_sold(url: str, event_id: int) -> tuple[int, int]:
    engine = create_engine(Settings(database_url=url), null_pool=True)
    async with engine.connect() as connection:
        tickets = await connection.scalar(
            select(func.count()).select_from(Ticket).where(Ticket.event_id == event_id)
        )
        counter = await connection.scalar(select(Event.tickets_sold).where(Event.id == event_id))
    await engine.dispose()
    return int(tickets or 0), int(counter or 0)


async def gate_totals(url: str, event_id: int) -> tuple[int, int, int]:
    """The event's gates' admitted, inside and refused, summed."""
    engine = create_engine(Settings(database_url=url), null_pool=True)
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                select(
                    func.sum(GateCounter.admitted),
                    func.sum(GateCounter.inside),
                    func.sum(GateCounter.refused),
                )
                .join(Gate, Gate.id == GateCounter.gate_id)
                .where(Gate.event_id == event_id)
            )
        ).one()
    await engine.dispose()
    return int(row[0] or 0), int(row[1] or 0), int(row[2] or 0)


async def row_lock_waits(engine: AsyncEngine) -> tuple[int, int]:
    """MariaDB's row lock waits so far, and the milliseconds spent in them."""
    async with engine.connect() as connection:
        result = await connection.execute(text("SHOW GLOBAL STATUS LIKE 'Innodb_row_lock_%'"))
        rows = {str(name): value for name, value in result.all()}
    return int(rows.get("Innodb_row_lock_waits", 0)), int(rows.get("Innodb_row_lock_time", 0))


def lanes_of(requests: list[Request], clients: int) -> list[list[Request]]:
    """The requests dealt out to `clients` lanes in turn (request i to lane i % clients)."""
    return [requests[lane::clients] for lane in range(clients)]


async def door_with_gates(
    args: argparse.Namespace,
    url: str,
    engine: AsyncEngine,
    ids: tuple[int, int],
    base_url: str,
    server: tuple[int, int | None],
    auth: dict[str, str],
) -> dict[str, object]:
    """Plain door runs (staff token, no gate) and runs at gates with scanner tokens, alternating
    (the order swapped every round), each on its own event of fresh tickets; medians of each.
    Each client is one lane of scans sent one after another: in the gates runs one device with its
    own token (as a phone at a door), in the plain runs the staff token (`--shared-queue`: one
    queue for all clients instead, so one device's scans may be in flight twice at once).

    Besides the rates, the CPU time the uvicorn processes, MariaDB and the load generator spend per
    request (`cpu_per_request`, from /proc): a figure the machine's other work barely moves."""
    from bench.offline_bench import CpuGauge  # here: that module imports this one

    admin_id, holder_id = ids
    server_pid, database_pid = server
    clients_per_gate = max(1, args.clients // args.gates)
    runs: dict[str, list[LoadResult]] = {"plain": [], "gates": []}
    cpu: dict[str, list[dict[str, float]]] = {"plain": [], "gates": []}
    checks = []
    lock_waits: dict[str, list[tuple[int, int]]] = {"plain": [], "gates": []}
    for round_number in range(args.rounds):
        order = ["plain", "gates"] if round_number % 2 == 0 else ["gates", "plain"]
        for kind in order:
            event = await insert_event(engine, admin_id, args.scans, f"Door {kind} {round_number}")
            codes = await insert_active_tickets(engine, event, holder_id, args.scans)
            if kind == "plain":
                requests: list[Request] = [("POST", f"/tickets/{c}/validate", auth, b"") for c in codes]
            else:
                tokens = await insert_gates_with_scanners(engine, event, args.gates, clients_per_gate)
                headers = [
                    {"Authorization": f"Bearer {t}", "Content-Type": "application/json"} for t in tokens
                ]
                requests = [
                    ("POST", f"/tickets/{c}/validate", headers[i % len(headers)], b"")
                    for i, c in enumerate(codes)
                ]
            waits = await row_lock_waits(engine)
            gauge = CpuGauge(server_pid, database_pid)
            if args.shared_queue:
                runs[kind].append(await run_load(base_url, requests, args.clients))
            else:
                runs[kind].append(await run_lanes(base_url, lanes_of(requests, args.clients)))
            cpu[kind].append(gauge.per_scan_us(len(requests)))
            after = await row_lock_waits(engine)
            lock_waits[kind].append((after[0] - waits[0], after[1] - waits[1]))
            if kind == "gates":
                checks.append(await gate_totals(url, event))
    medians = {kind: statistics.median(r.rate for r in results) for kind, results in runs.items()}
    row = {
        "scenario": f"door validation: plain vs {args.gates} gates with scanner tokens",
        "rounds": args.rounds,
        "req_per_s": {kind: [round(r.rate, 1) for r in results] for kind, results in runs.items()},
        "p99_ms": {kind: [round(r.percentile(0.99), 2) for r in results] for kind, results in runs.items()},
        "statuses": {kind: [dict(r.statuses) for r in results] for kind, results in runs.items()},
        "median_req_per_s": {kind: round(rate, 1) for kind, rate in medians.items()},
        "gates_over_plain": round(medians["gates"] / medians["plain"], 3) if medians["plain"] else None,
        "cpu_per_request": cpu,
        "median_cpu_per_request_us": {
            kind: {part: statistics.median(run[part] for run in runs_cpu) for part in runs_cpu[0]}
            for kind, runs_cpu in cpu.items()
        },
        "row_lock_waits_and_ms": lock_waits,
        "clients": "one shared queue" if args.shared_queue else "one lane (one device) each",
        "load_average": [round(load, 2) for load in os.getloadavg()],
        "gate_counters_admitted_inside_refused": checks,
    }
    print(json.dumps(row, indent=2))
    return row


VOUCHER = "CREW-BENCH"


async def typed_sale(engine: AsyncEngine, admin_id: int, capacity: int) -> dict[str, int]:
    """An event of `capacity` seats with three free types: General (the event's total its only
    limit), Early (capped at a quarter) and Crew (hidden; a voucher unlocks it for a tenth)."""
    event_id = await insert_event(engine, admin_id, capacity, "Flash (three types)")
    async with engine.begin() as connection:
        general = await connection.scalar(select(TicketType.id).where(TicketType.event_id == event_id))
        await connection.execute(update(TicketType).where(TicketType.id == general).values(capacity=None))
    early = await insert_ticket_type(engine, event_id, "Early", capacity // 4)
    crew = await insert_ticket_type(engine, event_id, "Crew", None, hidden=True)
    await insert_voucher(engine, event_id, VOUCHER, capacity // 10)
    return {"event": event_id, "general": int(general or 0), "early": early, "crew": crew}


def typed_order(index: int, ids: dict[str, int]) -> bytes:
    """Mixed orders: one General, one Early, General and Early together, one Crew with the voucher."""
    kinds: list[dict[str, object]] = [
        {"items": [{"ticket_type_id": ids["general"], "quantity": 1}]},
        {"items": [{"ticket_type_id": ids["early"], "quantity": 1}]},
        {"items": [{"ticket_type_id": t, "quantity": 1} for t in (ids["general"], ids["early"])]},
        {"items": [{"ticket_type_id": ids["crew"], "quantity": 1}], "voucher_code": VOUCHER},
    ]
    return json.dumps(kinds[index % len(kinds)]).encode()


async def count_typed(url: str, ids: dict[str, int]) -> dict[str, Any]:
    """Tickets sold per type (and the types' counters), the event's total, the voucher's uses."""
    engine = create_engine(Settings(database_url=url), null_pool=True)
    async with engine.connect() as connection:
        per_type = dict(
            (
                await connection.execute(
                    select(Ticket.ticket_type_id, func.count())
                    .where(Ticket.event_id == ids["event"])
                    .group_by(Ticket.ticket_type_id)
                )
            ).all()
        )
        counters = dict(
            (
                await connection.execute(
                    select(TicketType.id, TicketType.sold).where(TicketType.event_id == ids["event"])
                )
            ).all()
        )
        uses = await connection.scalar(select(Voucher.uses).where(Voucher.event_id == ids["event"]))
    await engine.dispose()
    names = ("general", "early", "crew")
    return {
        "sold_per_type": {name: int(per_type.get(ids[name], 0)) for name in names},
        "type_counters": {name: int(counters.get(ids[name], 0)) for name in names},
        "voucher_uses": int(uses or 0),
        "event_sold": sum(int(count) for count in per_type.values()),
    }


async def run_typed_sale(
    args: argparse.Namespace,
    engine: AsyncEngine,
    url: str,
    base_url: str,
    admin_id: int,
    buyer_tokens: list[str],
    single_type: LoadResult,
) -> dict[str, object]:
    """The flash sale again, by the same buyers, on three types with mixed orders and a voucher."""
    ids = await typed_sale(engine, admin_id, args.capacity)
    requests: list[Request] = [
        (
            "POST",
            f"/events/{ids['event']}/tickets",
            {"Authorization": f"Bearer {t}", "Content-Type": "application/json"},
            typed_order(index, ids),
        )
        for index, t in enumerate(buyer_tokens)
    ]
    typed = await run_load(base_url, requests, args.clients)
    sold = await count_typed(url, ids)
    caps = {"early": args.capacity // 4, "crew (voucher max_uses)": args.capacity // 10}
    exact = sold["sold_per_type"] == sold["type_counters"] and [
        sold["sold_per_type"]["early"],
        sold["voucher_uses"],
        sold["event_sold"],
    ] == [caps["early"], caps["crew (voucher max_uses)"], args.capacity]
    row = {
        "scenario": f"flash sale, three types (capacity {args.capacity}, {args.buyers} buyers)",
        "caps": caps,
        "app": typed.summary(),
        "typed_over_single_type": round(typed.rate / single_type.rate, 3) if single_type.rate else None,
        **sold,
        "each_cap_sold_exactly": exact,
    }
    print(json.dumps(row, indent=2))
    return row


def report(name: str, app: LoadResult, raw: LoadResult, extra: dict[str, object]) -> dict[str, object]:
    row = {
        "scenario": name,
        "app": app.summary(),
        "raw_asyncmy": raw.summary(),
        "app_over_raw": round(app.rate / raw.rate, 3) if raw.rate else None,
        **extra,
    }
    print(json.dumps(row, indent=2))
    return row


async def main(args: argparse.Namespace, url: str, workdir: Path, database_pid: int | None = None) -> None:
    await asyncio.to_thread(upgrade_to_head, url)
    engine = create_engine(Settings(database_url=url), null_pool=True)
    (admin_id,) = await insert_users(engine, 1, "admin", "admin")
    (staff_id,) = await insert_users(engine, 1, "staff", "staff")
    (holder_id,) = await insert_users(engine, 1, "attendee", "holder")
    buyer_ids = await insert_users(engine, args.buyers, "attendee", "buyer")
    staff_token = mint_token(staff_id, SECRET)
    buyer_tokens = [mint_token(i, SECRET) for i in buyer_ids]
    print(f"seeded {args.buyers} buyers", file=sys.stderr)

    process, base_url = start_server(url, args.workers, workdir / "server.log")
    results = []
    try:
        await wait_ready(base_url)
        # Warm-up: every worker process loads its code paths and fills its pool.
        warm_event = await insert_event(engine, admin_id, 2_000, "Warm-up")
        warm_codes = await insert_active_tickets(engine, warm_event, holder_id, 2_000)
        auth = {"Authorization": f"Bearer {staff_token}", "Content-Type": "application/json"}
        await run_load(
            base_url, [("POST", f"/tickets/{c}/validate", auth, b"") for c in warm_codes], args.clients
        )

        if args.only in (None, "validate"):
            app_event = await insert_event(engine, admin_id, args.scans, "Door (app)")
            raw_event = await insert_event(engine, admin_id, args.scans, "Door (raw)")
            app_codes = await insert_active_tickets(engine, app_event, holder_id, args.scans)
            raw_codes = await insert_active_tickets(engine, raw_event, holder_id, args.scans)
            requests: list[Request] = [("POST", f"/tickets/{c}/validate", auth, b"") for c in app_codes]
            app = await run_load(base_url, requests, args.clients)
            raw = await run_raw(url, raw_codes, args.clients, validation_transaction(staff_id))
            results.append(report("door validation (distinct valid tickets)", app, raw, {}))

        if args.only in (None, "gates"):
            server = (process.pid, database_pid)
            results.append(
                await door_with_gates(args, url, engine, (admin_id, holder_id), base_url, server, auth)
            )

        if args.only in (None, "flash"):
            app_event = await insert_event(engine, admin_id, args.capacity, "Flash (app)")
            raw_event = await insert_event(engine, admin_id, args.capacity, "Flash (raw)")
            body = b'{"quantity": 1}'
            requests = [
                (
                    "POST",
                    f"/events/{app_event}/tickets",
                    {"Authorization": f"Bearer {t}", "Content-Type": "application/json"},
                    body,
                )
                for t in buyer_tokens
            ]
            app = await run_load(base_url, requests, args.clients)
            raw = await run_raw(url, buyer_ids, args.clients, purchase_transaction(raw_event))
            app_sold = await count_sold(url, app_event)
            raw_sold = await count_sold(url, raw_event)
            results.append(
                report(
                    f"flash sale (capacity {args.capacity}, {args.buyers} buyers)",
                    app,
                    raw,
                    {"app_sold_tickets_and_counter": app_sold, "raw_sold_tickets_and_counter": raw_sold},
                )
            )
            results.append(await run_typed_sale(args, engine, url, base_url, admin_id, buyer_tokens, app))
    finally:
        process.terminate()
        process.wait(timeout=30)
        await engine.dispose()
    print(
        json.dumps(
            {
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "platform": platform.platform(),
                    "uvicorn_workers": args.workers,
                    "clients": args.clients,
                }
            },
            indent=2,
        )
    )


def run() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="ticketflow-bench-") as workdir:
        if args.mysql_url:
            asyncio.run(main(args, args.mysql_url, Path(workdir)))
            return
        from tests.support.mariadb import start_mariadb

        server = start_mariadb()
        try:
            server.sql("CREATE DATABASE bench CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
            asyncio.run(main(args, server.url("bench"), Path(workdir), server.process.pid))
        finally:
            server.stop()


if __name__ == "__main__":
    run()
