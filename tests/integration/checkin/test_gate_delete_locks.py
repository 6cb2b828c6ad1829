"""A gate's delete against the scans of the devices bound to it, on MariaDB: every transaction
takes a device's `scanners` row before a `gates` row (the door's log row checks its foreign keys
in that order; the delete revokes the gate's scanners, then locks and deletes the gate; a sync
batch reads its device's row, then its event's gates, with shared locks). Whoever holds the first
lock goes first; the other waits for it (a scan and the delete never close a cycle: no 1213, no
1205), and so do a batch, online scans of other tickets and the delete at once. A victim MariaDB
still picks (an online scan holding a ticket the batch names, waiting behind the delete) is run
again (`again_if_deadlocked`, tested with injected 1213s in test_deadlock_victims.py)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from tests.integration.checkin.offline_support import gate_with_tickets, minutes_ago, pair_device, scan
from tests.integration.checkin.test_sync_gate_deleted import (
    batch,
    delete_gate,
    device_of,
    log_rows,
)
from tests.support.databases import waiting_for_row_locks
from ticketflow.db import driver
from ticketflow.db.models.checkins import CheckIn, ScanResult
from ticketflow.db.models.gates import Gate, Scanner
from ticketflow.db.models.tickets import Ticket, TicketStatus
from ticketflow.domain.checkin import door, service, sync
from ticketflow.domain.checkin.door import GateService
from ticketflow.domain.checkin.statements import SyncStatements
from ticketflow.lib.errors import AuthenticationFailed

pytestmark = pytest.mark.parametrize("database_url", ["mysql"], indirect=True)


@pytest.fixture
async def gate_and_tickets(client, db, settings):
    return await gate_with_tickets(client, db, settings, "One door", 4)


def pause_after_the_gate_lock(monkeypatch) -> tuple[asyncio.Event, asyncio.Event]:
    """The delete stops right after its statement that locks the gate (`FOR UPDATE`), inside its
    transaction, until released; returns (holding, release)."""
    holding, release = asyncio.Event(), asyncio.Event()
    delete_gate_of = GateService.delete_gate

    async def pausing(self, gate_id):
        execute = self.session.execute

        async def execute_then_hold(statement, *args, **kwargs):
            result = await execute(statement, *args, **kwargs)
            if getattr(statement, "_for_update_arg", None) is not None:
                holding.set()
                await release.wait()
            return result

        self.session.execute = execute_then_hold
        try:
            return await delete_gate_of(self, gate_id)
        finally:
            del self.session.execute

    monkeypatch.setattr(GateService, "delete_gate", pausing)
    return holding, release


async def test_a_bound_devices_scan_during_the_delete_waits_for_it(
    client, db, gate_and_tickets, checking_in, monkeypatch
) -> None:
    """The delete holds its locks (paused after locking the gate); a device bound to the gate
    scans: its log row waits for the delete, and is then answered as a scan after the delete (401,
    the device revoked with its gate), nothing admitted or logged; the delete succeeds."""
    admin, event, gate_id, tickets = gate_and_tickets
    scanner_id, headers = await pair_device(client, admin, event["id"], gate_id=gate_id)
    holding, release = pause_after_the_gate_lock(monkeypatch)
    deleting = asyncio.create_task(delete_gate(db, gate_id))
    await holding.wait()

    scanning = asyncio.create_task(
        checking_in.validate_ticket(
            code=tickets[0]["code"],
            door_event_id=None,
            scanner_id=None,
            device=device_of(scanner_id, headers),
        )
    )
    await waiting_for_row_locks(db, "INSERT INTO check_ins%", scanning)
    release.set()
    await deleting
    with pytest.raises(AuthenticationFailed, match="revoked"):
        await scanning
    assert await log_rows(db) == []
    again = await client.post(f"/tickets/{tickets[0]['code']}/validate", headers=headers)
    assert again.status_code == 401, again.text


def deadlocks_counted(monkeypatch) -> list[str]:
    """The names of the transactions MariaDB rolled back as a deadlock's victim (and that were run
    again), in order."""
    victims: list[str] = []
    again = driver.again_if_deadlocked

    async def counting(transaction, attempts=driver.DEADLOCK_ATTEMPTS):
        async def noted():
            try:
                return await transaction()
            except Exception as error:
                if driver.deadlock(error):
                    victims.append(getattr(transaction, "func", transaction).__qualname__)
                raise

        return await again(noted, attempts)

    for module in (door, service, sync):
        monkeypatch.setattr(module, "again_if_deadlocked", counting)
    return victims


async def test_a_batch_online_scans_and_the_delete_at_once(
    client, db, gate_and_tickets, checking_in, syncing, monkeypatch
) -> None:
    """A bound device's batch holds its locks; the gate's delete comes and waits for it; online
    scans of that device and of another device bound to the gate come and wait behind the delete
    (their log rows' foreign keys to their scanner rows). The batch's UPDATE of its tickets
    changes no index entry the scans hold (the tickets are not indexed by status), so it waits for
    none of them: no cycle, no deadlock's victim (on the old (event_id, status) index the batch
    waited for the scans' entries there, and MariaDB rolled one of the four back). Each goes in
    the order of the locks: the batch is recorded at the gate, then the delete is done, then each
    online scan is refused 401 (its device revoked with the gate), nothing of it kept."""
    admin, event, gate_id, tickets = gate_and_tickets
    victims = deadlocks_counted(monkeypatch)
    # the other device first: the delete revokes (locks) its row, then waits for the batch's
    other = device_of(*await pair_device(client, admin, event["id"], gate_id=gate_id))
    syncing_device = device_of(*await pair_device(client, admin, event["id"], gate_id=gate_id))
    others: list[asyncio.Task] = []
    lock_tickets = SyncStatements.lock_tickets

    async def everyone_meanwhile(self, ids):
        if not others:  # the first attempt only
            others.append(asyncio.create_task(delete_gate(db, gate_id)))
            await waiting_for_row_locks(db, "UPDATE scanners%", *others)
            for device, ticket in ((syncing_device, tickets[2]), (other, tickets[3])):
                scanning = checking_in.validate_ticket(
                    code=ticket["code"], door_event_id=None, scanner_id=None, device=device
                )
                others.append(asyncio.create_task(scanning))
            await waiting_for_row_locks(db, "INSERT INTO check_ins%", *others[1:])
        return await lock_tickets(self, ids)

    monkeypatch.setattr(SyncStatements, "lock_tickets", everyone_meanwhile)
    scans = batch(scan(tickets[0]["code"], minutes_ago(2)), scan(tickets[1]["code"], minutes_ago(1)))
    try:
        synced = await syncing.sync(syncing_device, scans)
    finally:
        answers = await asyncio.gather(*others, return_exceptions=True)

    assert victims == []
    assert [answer.result for answer in synced] == ["valid", "valid"]
    assert answers[0] is None, answers  # the delete, done
    for answer in answers[1:]:
        assert isinstance(answer, AuthenticationFailed), answer  # after the delete
    async with db() as session:
        logged = (await session.execute(select(CheckIn.ticket_id, CheckIn.gate_id, CheckIn.result))).all()
        used = set(
            await session.scalars(
                select(Ticket.id).where(Ticket.event_id == event["id"], Ticket.status == TicketStatus.USED)
            )
        )
        gate_left = await session.get(Gate, gate_id)
    assert gate_left is None
    admitted = {tickets[0]["id"], tickets[1]["id"]}
    assert sorted(logged) == sorted((ticket_id, None, ScanResult.VALID) for ticket_id in admitted)
    assert used == admitted


async def test_a_devices_scan_during_its_batch_does_not_wait_to_touch_it(
    client, db, gate_and_tickets, checking_in, syncing, monkeypatch
) -> None:
    """The batch holds a shared lock on its device's row; an online scan of the same device, with
    its `last_seen_at` due, is answered without waiting for the batch (its write of
    `last_seen_at` is skipped while the row is held: a write waiting there would queue the
    device's next scans behind it). The batch writes it after its commit."""
    admin, event, gate_id, tickets = gate_and_tickets
    device = device_of(*await pair_device(client, admin, event["id"], gate_id=gate_id))
    answered = []
    lock_tickets = SyncStatements.lock_tickets

    async def scan_meanwhile(self, ids):
        if not answered:
            # answered while the batch holds the device's row (a write of `last_seen_at` waiting
            # for it would end in a lock wait timeout, 1205)
            answered.append(
                await checking_in.validate_ticket(
                    code=tickets[2]["code"], door_event_id=None, scanner_id=None, device=device
                )
            )
        return await lock_tickets(self, ids)

    monkeypatch.setattr(SyncStatements, "lock_tickets", scan_meanwhile)
    synced = await syncing.sync(device, batch(scan(tickets[0]["code"], minutes_ago(2))))

    assert [answer.result for answer in synced] == ["valid"]
    assert [outcome.result for outcome in answered] == ["valid"]
    async with db() as session:
        assert (await session.scalars(select(Scanner.last_seen_at))).one() is not None  # the batch's
