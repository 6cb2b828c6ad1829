"""The hot paths' services in process: `python -m bench.service_bench [--count 2000]`.

Door scans (`CheckInService.validate_ticket`; `--signed`: of `tf2.` codes) and free single-ticket purchases
(`PurchaseService.purchase`) one after another on a throwaway SQLite file, no HTTP: prints the
CPU time of the process and the wall time per transaction. Less sensitive to a busy machine than
`python -m bench`, so it suits comparing two versions of the code (run them in turn).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from bench.seed import insert_active_tickets, insert_event, insert_signed_tickets, insert_users
from tests.support.databases import settings_for_tests
from ticketflow.db.config import create_engine
from ticketflow.db.migrate import upgrade_to_head
from ticketflow.db.models.checkins import ScanResult
from ticketflow.domain.checkin.service import CheckInService
from ticketflow.domain.tickets.purchase import PurchaseService
from ticketflow.plugins import assemble

WARM_UP = 100


async def measure(url: str, count: int, *, signed: bool = False) -> dict[str, float]:
    settings = settings_for_tests(url)
    engine = create_engine(settings)
    context, _ = assemble(settings, engine)
    try:
        (admin,) = await insert_users(engine, 1, "admin", "admin")
        (staff,) = await insert_users(engine, 1, "staff", "staff")
        (holder,) = await insert_users(engine, 1, "attendee", "holder")
        buyers = await insert_users(engine, count, "attendee", "buyer")
        door = await insert_event(engine, admin, count, "Door")
        if signed:  # `tf2.` codes, as every ticket issued today holds
            codes = [
                code
                for _, code in await insert_signed_tickets(engine, context.ticket_signer, door, holder, count)
            ]
        else:
            codes = await insert_active_tickets(engine, door, holder, count)
        flash = await insert_event(engine, admin, count, "Flash")
        checkins = CheckInService(context.drivers, context.ticket_signer, context.gate_rules)
        purchases = PurchaseService(
            engine, context.drivers, context.notifier, context.payments, context.ticket_signer, 900
        )
        for code in codes[:WARM_UP]:
            await checkins.validate_ticket(code=code, door_event_id=None, scanner_id=staff)
        cpu, wall = time.process_time(), time.perf_counter()
        admitted = 0
        for code in codes[WARM_UP:]:
            outcome = await checkins.validate_ticket(code=code, door_event_id=None, scanner_id=staff)
            admitted += outcome.result == ScanResult.VALID
        door_cpu, door_wall = time.process_time() - cpu, time.perf_counter() - wall
        cpu, wall = time.process_time(), time.perf_counter()
        sold = 0
        for buyer in buyers:
            bought = await purchases.purchase(
                buyer_id=buyer, event_id=flash, quantity=1, idempotency_key=None
            )
            sold += len(bought.tickets)
        sale_cpu, sale_wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        await context.drivers.close()
        await engine.dispose()
    scans = len(codes) - WARM_UP
    return {
        "scans_admitted": admitted,
        "tickets_sold": sold,
        "door_cpu_us": round(door_cpu / scans * 1e6, 1),
        "door_wall_us": round(door_wall / scans * 1e6, 1),
        "purchase_cpu_us": round(sale_cpu / len(buyers) * 1e6, 1),
        "purchase_wall_us": round(sale_wall / len(buyers) * 1e6, 1),
    }


def run() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.service_bench", description=__doc__)
    parser.add_argument("--count", type=int, default=2000, help="tickets scanned and buyers (default 2000)")
    parser.add_argument("--signed", action="store_true", help="door tickets hold signed `tf2.` codes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ticketflow-service-bench-") as workdir:
        url = f"sqlite+aiosqlite:///{Path(workdir) / 'bench.db'}"
        upgrade_to_head(url)
        print(asyncio.run(measure(url, args.count, signed=args.signed)))


if __name__ == "__main__":
    run()
