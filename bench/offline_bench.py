"""Offline scanning at scale: `python -m bench.offline_bench` (MariaDB, like `python -m bench`).

Seeds one event with `--tickets` signed tickets, `--revoked` of them cancelled or reissued, serves
the app with uvicorn, then measures

* the scanner bundle: the full bundle's size (gzip, as sent) and its time to serve, best and
  median of `--repeat` requests, and a delta (`since` the full bundle's cursor) right after it: it
  repeats every revocation of the last `CURSOR_OVERLAP` (five minutes), here all of them, as the
  seed has just made them;
* sync ingest: `--devices` paired scanners each hand in `--synced` offline scans, in batches of
  `--batch`, all devices at once. `--overlap` is the share of each device's scans that are of
  tickets every device scanned (the same shared tickets at each device, in random order); the
  rest are the device's own people, scanned there only. At a venue the devices scan different
  people and a ticket seen at two devices is the exception (the default, 3 %); `--overlap 1` is
  the worst case: every device scans the same tickets in the same order at once. Scans per second
  of wall time, then the results are checked exactly against the workload (one admission per
  ticket scanned, every further scan of it a duplicate, every ticket scanned used);
  and, independent of whatever else the machine runs, the CPU time (user + system, from
  `/proc/<pid>/stat`) the uvicorn processes, mariadbd and this process spent per scan, in
  microseconds (`cpu_per_scan`; on 2 cores, 20 000 scans/s leaves at most 100 us in total).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import msgspec
from sqlalchemy import Select, case, func, or_, select, update

from bench.__main__ import SECRET, start_server, wait_ready
from bench.seed import insert_event, insert_signed_tickets, insert_users, mint_token
from ticketflow.db.config import create_engine
from ticketflow.db.migrate import upgrade_to_head
from ticketflow.db.models.checkins import CheckIn
from ticketflow.db.models.tickets import Ticket
from ticketflow.lib.signed_codes import TicketSigner
from ticketflow.settings import Settings

SCAN_MOMENTS = 230_000
"""Milliseconds the offline scans are spread over (each at its own moment: no ties)."""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.offline_bench", description=__doc__)
    parser.add_argument("--mysql-url", help="an empty MySQL/MariaDB database (default: start one)")
    parser.add_argument("--tickets", type=int, default=100_000, help="tickets of the event")
    parser.add_argument("--revoked", type=float, default=0.05, help="share cancelled or reissued")
    parser.add_argument("--repeat", type=int, default=10, help="bundle requests timed")
    parser.add_argument("--devices", type=int, default=4, help="scanners syncing at once")
    parser.add_argument("--synced", type=int, default=10_000, help="scans each device made")
    parser.add_argument(
        "--overlap", type=overlap, default=0.03, help="share of each device's scans that every device made"
    )
    parser.add_argument("--batch", type=int, default=500, help="scans per sync request")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    args = parser.parse_args()
    may_enter = args.tickets - int(args.tickets * args.revoked)
    if args.devices < 1 or Workload(args).tickets > may_enter:
        parser.error(f"the workload scans more tickets than the {may_enter} that may enter")
    if args.devices * args.synced > SCAN_MOMENTS:
        parser.error(f"at most {SCAN_MOMENTS} scans in all (one a millisecond over the scanning time)")
    return args


def overlap(text: str) -> float:
    share = float(text)
    if not 0 <= share <= 1:
        msg = "a share between 0 and 1"
        raise argparse.ArgumentTypeError(msg)
    return share


class Workload:
    """Which tickets each device scanned: `shared` tickets at every device, `own` at one only."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.devices = args.devices
        self.shared = round(args.synced * args.overlap)
        self.own = args.synced - self.shared

    @property
    def tickets(self) -> int:
        """Tickets scanned at least once: each is admitted once."""
        return self.shared + self.devices * self.own

    @property
    def duplicates(self) -> int:
        """Scans of a ticket another device (or an earlier scan) admitted."""
        return (self.devices - 1) * self.shared

    def of_device(self, chosen: list[tuple[int, str]], device: int) -> list[tuple[int, str]]:
        start = self.shared + device * self.own
        return chosen[: self.shared] + chosen[start : start + self.own]


async def seed(url: str, args: argparse.Namespace) -> tuple[int, int, list[tuple[int, str]]]:
    """(event id, admin id, the tickets that may enter as (id, code))."""
    settings = Settings(database_url=url)
    engine = create_engine(settings, null_pool=True)
    (admin_id,) = await insert_users(engine, 1, "admin", "admin")
    event_id = await insert_event(engine, admin_id, args.tickets, "Offline door", sold=args.tickets)
    tickets = await insert_signed_tickets(
        engine, TicketSigner.from_settings(settings), event_id, admin_id, args.tickets
    )
    rng = random.Random(16)
    revoked = rng.sample([ticket_id for ticket_id, _ in tickets], int(args.tickets * args.revoked))
    cancelled_ids = set(revoked[: len(revoked) // 2])
    async with engine.begin() as connection:
        now = dt.datetime.now(dt.UTC)
        for start in range(0, len(revoked), 2000):
            chunk = revoked[start : start + 2000]
            cancelled = [ticket_id for ticket_id in chunk if ticket_id in cancelled_ids]
            reissued = [ticket_id for ticket_id in chunk if ticket_id not in cancelled_ids]
            await connection.execute(
                update(Ticket)
                .where(Ticket.id.in_(cancelled))
                .values(status="cancelled", cancelled_at=now, updated_at=now)
            )
            await connection.execute(
                update(Ticket).where(Ticket.id.in_(reissued)).values(code_version=2, updated_at=now)
            )
    await engine.dispose()
    gone = set(revoked)
    return event_id, admin_id, [(ticket_id, code) for ticket_id, code in tickets if ticket_id not in gone]


async def pair_devices(
    http: httpx.AsyncClient, base: str, admin: dict[str, str], event_id: int, count: int
) -> list[dict[str, str]]:
    devices = []
    for index in range(count):
        created = await http.post(
            f"{base}/events/{event_id}/scanners", json={"name": f"Phone {index}"}, headers=admin
        )
        paired = await http.post(f"{base}/scanners/pair", json={"code": created.json()["pairing_code"]})
        devices.append({"Authorization": f"Bearer {paired.json()['access_token']}"})
    return devices


async def bundle_figures(
    http: httpx.AsyncClient, base: str, device: dict[str, str], args: argparse.Namespace, event_id: int
) -> dict[str, Any]:
    path = f"{base}/events/{event_id}/scanner-bundle"
    timings, sizes = [], []
    body: dict[str, Any] = {}
    for _ in range(args.repeat):
        started = time.perf_counter()
        async with http.stream("GET", path, headers={**device, "Accept-Encoding": "gzip"}) as response:
            raw = b"".join([chunk async for chunk in response.aiter_raw()])
            assert response.status_code == 200
            assert response.headers["content-encoding"] == "gzip"
        timings.append(time.perf_counter() - started)
        sizes.append(len(raw))
    plain = await http.get(path, headers={**device, "Accept-Encoding": "identity"})
    body = plain.json()
    started = time.perf_counter()
    delta = await http.get(path, params={"since": body["cursor"]}, headers=device)
    delta_seconds = time.perf_counter() - started
    return {
        "tickets": args.tickets,
        "revoked_entries": len(body["revoked"]),
        "gzip_bytes": max(sizes),
        "json_bytes": len(plain.content),
        "serve_seconds_best": round(min(timings), 4),
        "serve_seconds_median": round(statistics.median(timings), 4),
        "delta_entries": len(delta.json()["revoked"]),
        "delta_seconds": round(delta_seconds, 4),
    }


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has spent (`/proc/<pid>/stat`), 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime (fields 14 and 15)


def children(pid: int) -> list[int]:
    """The process's child processes (uvicorn's workers)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


class CpuGauge:
    """The CPU time the server's processes, the database server and this process spend over a span:
    a figure that does not depend on what else runs on the machine, unlike the wall-clock rate."""

    def __init__(self, server_pid: int, database_pid: int | None) -> None:
        self.pids = {"server": [server_pid, *children(server_pid)], "database": [database_pid or 0]}
        self.pids["bench"] = [os.getpid()]
        self.started = self.read()

    def read(self) -> dict[str, float]:
        return {part: sum(cpu_seconds(pid) for pid in pids if pid) for part, pids in self.pids.items()}

    def per_scan_us(self, scans: int) -> dict[str, float]:
        spent = {part: seconds - self.started[part] for part, seconds in self.read().items()}
        figures = {f"{part}_us": round(seconds * 1e6 / scans, 1) for part, seconds in spent.items()}
        return {**figures, "total_us": round(sum(spent.values()) * 1e6 / scans, 1)}


async def sync_figures(
    http: httpx.AsyncClient,
    base: str,
    devices: list[dict[str, str]],
    tickets: list[tuple[int, str]],
    args: argparse.Namespace,
    cpu: tuple[int, int | None],
) -> dict[str, Any]:
    rng = random.Random(7)
    workload = Workload(args)
    chosen = rng.sample(tickets, workload.tickets)
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=4)
    moments = rng.sample(range(SCAN_MOMENTS), args.synced * len(devices))
    order = random.Random(11)
    batches: list[tuple[int, list[dict[str, Any]]]] = []
    for device in range(len(devices)):
        scanned = workload.of_device(chosen, device)
        if workload.own:  # each device meets its people in its own order
            order.shuffle(scanned)
        scans = [
            {
                "client_id": f"d{device}-{ticket_id}",
                "code": code,
                "scanned_at": (
                    start + dt.timedelta(milliseconds=moments[index * len(devices) + device])
                ).isoformat(),
                "offline_result": "valid",
            }
            for index, (ticket_id, code) in enumerate(scanned)
        ]
        batches += [(device, scans[i : i + args.batch]) for i in range(0, len(scans), args.batch)]
    # Each request's body is encoded before the clock starts: the devices made theirs on their own
    # processors, not on the server's two cores (the answers are decoded by msgspec, as cheaply).
    per_device: list[list[bytes]] = [[] for _ in devices]
    for device, scans in batches:
        per_device[device].append(json.dumps({"scans": scans}, separators=(",", ":")).encode())
    sending = [{**headers, "Content-Type": "application/json"} for headers in devices]

    async def device_sends(device: int) -> int:
        sent = 0
        for body in per_device[device]:
            response = await http.post(f"{base}/check-ins/sync", content=body, headers=sending[device])
            assert response.status_code == 200, response.text
            sent += len(msgspec.json.decode(response.content)["results"])
        return sent

    gauge = CpuGauge(*cpu)
    started = time.perf_counter()
    handed = sum(await asyncio.gather(*(device_sends(d) for d in range(len(devices)))))
    seconds = time.perf_counter() - started
    return {
        "scans": handed,
        "batch": args.batch,
        "devices": len(devices),
        "overlap": args.overlap,
        "tickets_scanned": workload.tickets,
        "seconds": round(seconds, 3),
        "scans_per_second": round(handed / seconds),
        "cpu_per_scan": gauge.per_scan_us(handed),
        "load_average": [round(load, 2) for load in os.getloadavg()],
    }


def misjudged_tickets() -> Select[tuple[int]]:
    """How many scanned tickets do not have exactly one `valid` admission, the earliest scan."""
    admissions = CheckIn.result.in_(["valid", "duplicate_admission"])
    valid = CheckIn.result == "valid"
    per_ticket = (
        select(
            func.sum(case((valid, 1), else_=0)).label("valid"),
            func.min(CheckIn.scanned_at).label("first"),
            func.min(case((valid, CheckIn.scanned_at))).label("valid_at"),
        )
        .where(admissions)
        .group_by(CheckIn.ticket_id)
        .subquery()
    )
    wrong = or_(per_ticket.c.valid != 1, per_ticket.c.valid_at != per_ticket.c.first)
    return select(func.count()).select_from(per_ticket).where(wrong)


async def exact(url: str, args: argparse.Namespace) -> dict[str, int]:
    engine = create_engine(Settings(database_url=url), null_pool=True)
    async with engine.connect() as connection:
        rows = await connection.execute(select(CheckIn.result, func.count()).group_by(CheckIn.result))
        counts = {str(result): int(count) for result, count in rows}
        used = int(
            await connection.scalar(select(func.count()).select_from(Ticket).where(Ticket.status == "used"))
            or 0
        )
        misjudged = int(await connection.scalar(misjudged_tickets()) or 0)
    await engine.dispose()
    workload = Workload(args)
    expected = {"valid": workload.tickets, "duplicate_admission": workload.duplicates}
    assert counts == {result: count for result, count in expected.items() if count}, counts
    assert used == workload.tickets, used
    assert misjudged == 0, f"{misjudged} tickets without exactly one valid admission, their earliest"
    return {**counts, "tickets_used": used}


async def main(args: argparse.Namespace, url: str, workdir: Path, database_pid: int | None = None) -> None:
    await asyncio.to_thread(upgrade_to_head, url)
    event_id, admin_id, tickets = await seed(url, args)
    print(f"seeded {args.tickets} signed tickets", file=sys.stderr)
    process, base = start_server(url, args.workers, workdir / "server.log")
    try:
        await wait_ready(base)
        limits = httpx.Limits(max_connections=64)
        async with httpx.AsyncClient(timeout=300, limits=limits) as http:
            admin = {"Authorization": f"Bearer {mint_token(admin_id, SECRET)}"}
            devices = await pair_devices(http, base, admin, event_id, args.devices)
            bundle = await bundle_figures(http, base, devices[0], args, event_id)
            print(json.dumps({"scenario": "scanner bundle", **bundle}, indent=2))
            ingest = await sync_figures(http, base, devices, tickets, args, (process.pid, database_pid))
        ingest["exact"] = await exact(url, args)
        print(json.dumps({"scenario": "sync ingest", **ingest}, indent=2))
    finally:
        process.terminate()
        process.wait(timeout=30)
    machine = {"cpus": os.cpu_count(), "python": platform.python_version(), "uvicorn_workers": args.workers}
    print(json.dumps({"machine": machine}, indent=2))


def run() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="ticketflow-offline-bench-") as workdir:
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
