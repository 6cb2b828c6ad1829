"""A gate deleted during an online scan that names it, between the scan's read of the gate and its
scan-log row. The door does not lock the gate: on MariaDB the row's foreign key refuses the row,
and the scan is rolled back whole and answered as a scan after the delete. On SQLite the delete
cannot come between (one writer, `BEGIN IMMEDIATE`)."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import select

from tests.support.api import buy, make_actor, make_event
from tests.support.databases import gate_counts
from ticketflow.db.models.checkins import CheckIn
from ticketflow.db.models.gates import Gate, GateCounter, Scanner
from ticketflow.db.models.tickets import Ticket
from ticketflow.domain.checkin.door import GateService
from ticketflow.domain.checkin.statements import DoorStatements


@pytest.fixture
async def door(client, db):
    admin = await make_actor(client, db, role="admin")
    staff = await make_actor(client, db, role="staff")
    holder = await make_actor(client, db, name="Lise Meitner")
    event = await make_event(client, admin, title="Late changes")
    gates = []
    for name in ("North", "South"):
        made = await client.post(f"/events/{event['id']}/gates", json={"name": name}, headers=admin.headers)
        assert made.status_code == 201, made.text
        gates.append(made.json()["id"])
    ticket = (await buy(client, holder, event["id"])).json()["tickets"][0]
    return admin, staff, event, gates, ticket


async def device_headers(client, admin, event, gate_id=None):
    body = {"name": "Phone"} | ({} if gate_id is None else {"gate_id": gate_id})
    created = await client.post(f"/events/{event['id']}/scanners", json=body, headers=admin.headers)
    assert created.status_code == 201, created.text
    paired = await client.post("/scanners/pair", json={"code": created.json()["pairing_code"]})
    assert paired.status_code == 200, paired.text
    return {"Authorization": f"Bearer {paired.json()['access_token']}"}


def delete_before_the_log_row(monkeypatch, db, gate_id: int, deleted: list[int]) -> None:
    """The door's next scan-log row is written only once a second connection has deleted the gate
    and committed (the scan has read the gate by then, and admitted or refused its ticket)."""
    record_scan = DoorStatements.record_scan

    async def after_the_delete(self, scan, change=None):
        if not deleted:
            async with db() as session:
                await GateService(session).delete_gate(gate_id)
            deleted.append(gate_id)
        return await record_scan(self, scan, change)

    monkeypatch.setattr(DoorStatements, "record_scan", after_the_delete)


async def ticket_state(db, ticket):
    async with db() as session:
        row = await session.get(Ticket, ticket["id"])
        return row.status, row.used_at is not None, row.left_at is not None


async def log_rows(db):
    async with db() as session:
        return list(await session.execute(select(CheckIn.ticket_id, CheckIn.result).order_by(CheckIn.id)))


async def counter_rows(db):
    async with db() as session:
        found = await session.execute(
            select(GateCounter.gate_id, GateCounter.slot, GateCounter.admitted, GateCounter.inside)
            .where(GateCounter.admitted + GateCounter.inside + GateCounter.refused != 0)
            .order_by(GateCounter.gate_id, GateCounter.slot)
        )
        return [tuple(row) for row in found]


@pytest.mark.parametrize("database_url", ["mysql"], indirect=True)
@pytest.mark.parametrize(
    ("scanner", "status", "detail"),
    [
        ("bound device", 401, "this scanner is revoked or expired"),
        ("device", 422, "gate_id is not a gate of this event"),
        ("staff", 422, "gate_id is not a gate of this event"),
    ],
)
async def test_an_admission_at_a_gate_deleted_meanwhile_is_undone_whole(
    client, db, door, monkeypatch, scanner, status, detail
) -> None:
    """The scan admitted the ticket, then its log row is refused: nothing of it stays (the ticket
    active, no log row, no counter changed), and the answer is the one the next scan gets."""
    admin, staff, event, (north, _), ticket = door
    if scanner == "staff":
        headers, body = staff.headers, {"gate_id": north}
    else:
        bound = scanner == "bound device"
        headers = await device_headers(client, admin, event, north if bound else None)
        body = {} if bound else {"gate_id": north}
    deleted: list[int] = []
    delete_before_the_log_row(monkeypatch, db, north, deleted)
    url = f"/tickets/{ticket['code']}/validate"

    refused = await client.post(url, json=body, headers=headers)
    assert deleted == [north]  # the delete came between the scan's read and its log row
    assert (refused.status_code, refused.json()["detail"]) == (status, detail), refused.text
    assert await ticket_state(db, ticket) == ("active", False, False)
    assert await log_rows(db) == []
    assert await counter_rows(db) == []
    async with db() as session:
        assert await session.scalar(select(Gate.id).where(Gate.id == north)) is None
    again = await client.post(url, json=body, headers=headers)  # a scan after the delete
    assert (again.status_code, again.json()["detail"]) == (status, detail)
    assert await ticket_state(db, ticket) == ("active", False, False)


@pytest.mark.parametrize("database_url", ["mysql"], indirect=True)
async def test_an_exit_at_a_gate_deleted_meanwhile_changes_nothing(client, db, door, monkeypatch) -> None:
    """An out-scan at a gate deleted meanwhile: the ticket stays inside, and the gate it came in
    by keeps counting it inside (the exit's change there is rolled back with the log row)."""
    _admin, staff, _event, (north, south), ticket = door
    admitted = await client.post(
        f"/tickets/{ticket['code']}/validate", json={"gate_id": south}, headers=staff.headers
    )
    assert admitted.json()["result"] == "valid", admitted.text
    deleted: list[int] = []
    delete_before_the_log_row(monkeypatch, db, north, deleted)

    refused = await client.post(
        f"/tickets/{ticket['code']}/validate",
        json={"gate_id": north, "direction": "out"},
        headers=staff.headers,
    )
    assert deleted == [north]
    assert (refused.status_code, refused.json()["detail"]) == (422, "gate_id is not a gate of this event")
    assert await ticket_state(db, ticket) == ("used", True, False)
    assert await log_rows(db) == [(ticket["id"], "valid")]
    assert await gate_counts(db, south) == (1, 1, 0)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_on_sqlite_a_delete_cannot_come_between(client, db, settings, door, monkeypatch) -> None:
    """SQLite: the scan holds the only writer from its first read, so the delete is refused as
    locked where it would come between (a real one waits): the scan is recorded at the gate."""
    admin, _staff, event, (north, _), ticket = door
    headers = await device_headers(client, admin, event, north)
    tried: list[str] = []
    record_scan = DoorStatements.record_scan

    async def try_to_delete(self, scan, change=None):
        other = sqlite3.connect(settings.database_url.split("///", 1)[1], timeout=0)
        try:
            other.execute("PRAGMA foreign_keys=ON")
            other.execute("DELETE FROM gates WHERE id = ?", (north,))
        except sqlite3.OperationalError as error:
            tried.append(str(error))
        finally:
            other.close()
        return await record_scan(self, scan, change)

    monkeypatch.setattr(DoorStatements, "record_scan", try_to_delete)
    admitted = await client.post(f"/tickets/{ticket['code']}/validate", headers=headers)
    assert tried == ["database is locked"]
    assert (admitted.status_code, admitted.json()["gate"]["admitted"]) == (200, 1), admitted.text
    assert await log_rows(db) == [(ticket["id"], "valid")]
    monkeypatch.undo()

    assert (await client.delete(f"/gates/{north}", headers=admin.headers)).status_code == 204
    async with db() as session:
        assert (await session.scalars(select(Scanner.revoked_at))).one() is not None
        assert (await session.scalars(select(CheckIn.gate_id))).all() == [None]
    assert (await client.post(f"/tickets/{ticket['code']}/validate", headers=headers)).status_code == 401
