"""A gate deleted while a sync batch that names it is being applied: one of the two goes first,
whole, and the other sees it. Never a batch that fails on the log rows' foreign key."""

from __future__ import annotations

import asyncio
import sqlite3

import msgspec
import pytest
from sqlalchemy import select

from tests.integration.checkin.offline_support import gate_with_tickets, minutes_ago, pair_device, scan
from tests.support.databases import waiting_for_row_locks
from ticketflow.db.models.checkins import CheckIn
from ticketflow.db.models.gates import Gate, Scanner
from ticketflow.domain.checkin.door import GateService, digest
from ticketflow.domain.checkin.offline_schemas import OfflineScan
from ticketflow.domain.checkin.service import Device
from ticketflow.domain.checkin.statements import SyncStatements
from ticketflow.lib.errors import AuthenticationFailed, RuleViolation


@pytest.fixture
async def gate_and_tickets(client, db, settings):
    return await gate_with_tickets(client, db, settings, "Two doors", 2)


async def log_rows(db):
    async with db() as session:
        found = await session.execute(
            select(CheckIn.client_id, CheckIn.gate_id, CheckIn.result).order_by(CheckIn.id)
        )
        return [tuple(row) for row in found]


async def delete_gate(db, gate_id: int) -> None:
    async with db() as session:
        await GateService(session).delete_gate(gate_id)


def device_of(scanner_id: int, headers: dict[str, str]) -> Device:
    return Device(scanner_id, digest(headers["Authorization"].removeprefix("Bearer ")))


def batch(*scans):
    return msgspec.json.decode(msgspec.json.encode(scans), type=list[OfflineScan])


async def test_a_gate_deleted_while_a_batch_is_applied_waits_for_it(
    client, db, settings, gate_and_tickets, syncing, monkeypatch
) -> None:
    """The batch has read its device and the gates (and holds them); the delete comes now. On
    MariaDB it waits for the batch's commit (the shared lock on the device's row, which it
    revokes before it locks the gate), on SQLite it cannot start (one writer): the
    batch is recorded at the gate, then the delete removes the gate from its rows and revokes the
    gate's scanner, whose next batch is refused."""
    admin, event, gate_id, tickets = gate_and_tickets
    scanner_id, headers = await pair_device(client, admin, event["id"], gate_id=gate_id)
    deleting: list[asyncio.Task] = []
    lock_tickets = SyncStatements.lock_tickets

    async def delete_meanwhile(self, ids):
        if not deleting:
            if settings.database_url.startswith("sqlite"):
                other = sqlite3.connect(settings.database_url.split("///", 1)[1], timeout=0)
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    other.execute("DELETE FROM gates WHERE id = ?", (gate_id,))
                other.close()
            deleting.append(asyncio.create_task(delete_gate(db, gate_id)))
            if not settings.database_url.startswith("sqlite"):
                await waiting_for_row_locks(db, "UPDATE scanners%", *deleting)  # the device's row
        return await lock_tickets(self, ids)

    monkeypatch.setattr(SyncStatements, "lock_tickets", delete_meanwhile)
    device = device_of(scanner_id, headers)
    scans = batch(scan(tickets[0]["code"], minutes_ago(2)), scan(tickets[1]["code"], minutes_ago(1)))
    synced = await syncing.sync(device, scans)
    assert [answer.result for answer in synced] == ["valid", "valid"]
    await deleting[0]

    assert [row[1:] for row in await log_rows(db)] == [(None, "valid"), (None, "valid")]  # gate gone
    async with db() as session:
        assert await session.scalar(select(Gate.id).where(Gate.id == gate_id)) is None
        assert (await session.scalars(select(Scanner.revoked_at))).one() is not None
    later = [scan(tickets[0]["code"], minutes_ago(0.5))]
    refused = await client.post("/check-ins/sync", json={"scans": later}, headers=headers)
    assert refused.status_code == 401, refused.text
    assert len(await log_rows(db)) == 2


@pytest.mark.parametrize("database_url", ["mysql"], indirect=True)
async def test_a_batch_behind_a_gate_delete_finds_the_gate_gone(
    client, db, gate_and_tickets, syncing, monkeypatch
) -> None:
    """The delete holds the gate and its scanners first; the batches wait for it (the bound
    device's for its row, the other's for the gate), then judge by what it left: the
    gate's own scanner is revoked (401), another scanner's scans naming the gate are at a gate of
    no event (422, the whole batch, as for any unknown gate), and nothing is recorded. MariaDB
    only: on SQLite a delete and a batch never overlap."""
    admin, event, gate_id, tickets = gate_and_tickets
    bound = device_of(*await pair_device(client, admin, event["id"], gate_id=gate_id))
    roaming = device_of(*await pair_device(client, admin, event["id"]))
    holding, release = asyncio.Event(), asyncio.Event()
    remove = GateService.delete

    async def delete_when_told(self, *args, **kwargs):
        holding.set()  # the gate is locked and its scanners revoked, not yet committed
        await release.wait()
        return await remove(self, *args, **kwargs)

    monkeypatch.setattr(GateService, "delete", delete_when_told)
    deleting = asyncio.create_task(delete_gate(db, gate_id))
    await holding.wait()
    batches = [
        asyncio.create_task(
            syncing.sync(device, batch(scan(ticket["code"], minutes_ago(1), gate_id=gate_id)))
        )
        for device, ticket in ((bound, tickets[0]), (roaming, tickets[1]))
    ]
    await waiting_for_row_locks(db, "%LOCK IN SHARE MODE", *batches)  # bound: its row; roaming: the gate
    release.set()
    await deleting
    with pytest.raises(AuthenticationFailed):
        await batches[0]
    with pytest.raises(RuleViolation, match="gate_id is not a gate of this event"):
        await batches[1]
    assert await log_rows(db) == []
