"""A transaction MySQL/MariaDB rolls back as a deadlock's victim (1213) is run again, from its start,
as a fresh transaction: the door's scan, a sync batch and a gate's delete. Here the victim's error
is raised at the end of the transaction's real work (its writes done, then rolled back), so the
second attempt must find nothing of the first: the answer is the second's, recorded once. A victim
on every attempt answers 503 (send it again) and keeps nothing."""

from __future__ import annotations

from sqlalchemy import exc, select, update

from tests.integration.checkin.offline_support import (
    gate_with_tickets,
    minutes_ago,
    pair_device,
    scan,
    signed_tickets,
)
from tests.support.api import make_actor, make_event
from tests.support.databases import DEADLOCK
from ticketflow.db.driver import DriverConnection
from ticketflow.db.models.checkins import CheckIn
from ticketflow.db.models.gates import Gate, Scanner
from ticketflow.db.models.tickets import Ticket
from ticketflow.domain.checkin.door import GateService
from ticketflow.domain.checkin.statements import LOCK_DEVICE_IF_FREE, DoorStatements, SyncStatements


def victim(monkeypatch, owner: type, name: str, error: Exception = DEADLOCK, times: int = 1) -> list[int]:
    """`owner.name` does its work, then raises `error` its first `times` calls (the transaction
    around it is rolled back); returns the list its calls are counted in."""
    calls: list[int] = []
    work = getattr(owner, name)

    async def then_deadlocked(self, *args, **kwargs):
        done = await work(self, *args, **kwargs)
        calls.append(1)
        if len(calls) <= times:
            raise error
        return done

    monkeypatch.setattr(owner, name, then_deadlocked)
    return calls


async def logged(db) -> list[tuple[int | None, str]]:
    async with db() as session:
        rows = await session.execute(select(CheckIn.ticket_id, CheckIn.result).order_by(CheckIn.id))
        return [tuple(row) for row in rows]


async def used(db, ticket_ids: list[int]) -> list[str]:
    async with db() as session:
        return [(await session.get(Ticket, ticket_id)).status for ticket_id in ticket_ids]


async def event_with_tickets(client, db, settings, quantity: int = 1):
    """An admin, an event of theirs and `quantity` signed tickets of it a holder bought."""
    admin = await make_actor(client, db, role="admin")
    holder = await make_actor(client, db)
    event = await make_event(client, admin)
    return admin, event, await signed_tickets(client, db, settings, holder, event["id"], quantity=quantity)


async def staff_and_ticket(client, db, settings):
    """A door staff account and a signed ticket of an event."""
    staff = await make_actor(client, db, role="staff")
    _, _, [ticket] = await event_with_tickets(client, db, settings)
    return staff, ticket


async def device_and_tickets(client, db, settings, quantity: int = 1):
    """A paired device of an event (no gate) and `quantity` signed tickets of it: (scanner id,
    the device's headers, the tickets)."""
    admin, event, tickets = await event_with_tickets(client, db, settings, quantity)
    scanner_id, device = await pair_device(client, admin, event["id"])
    return scanner_id, device, tickets


async def gate_with_scanner(client, db, settings):
    """An event's gate with a device paired to it: (admin, gate id, scanner id)."""
    admin, event, gate_id, _ = await gate_with_tickets(client, db, settings, "Deadlocks", 1)
    scanner_id, _ = await pair_device(client, admin, event["id"], gate_id=gate_id)
    return admin, gate_id, scanner_id


async def test_a_scan_that_was_the_victim_is_admitted_once(client, db, settings, monkeypatch) -> None:
    staff, ticket = await staff_and_ticket(client, db, settings)
    calls = victim(monkeypatch, DoorStatements, "record_scan")

    response = await client.post(f"/tickets/{ticket['code']}/validate", headers=staff.headers)

    assert response.status_code == 200, response.text
    assert response.json()["result"] == "valid"  # not already_used: the first attempt's admission undone
    assert len(calls) == 2
    assert await logged(db) == [(ticket["id"], "valid")]
    assert await used(db, [ticket["id"]]) == ["used"]


async def test_a_batch_that_was_the_victim_is_recorded_once(client, db, settings, monkeypatch) -> None:
    _, device, tickets = await device_and_tickets(client, db, settings, quantity=2)
    calls = victim(monkeypatch, SyncStatements, "write")
    scans = [scan(tickets[0]["code"], minutes_ago(2)), scan(tickets[1]["code"], minutes_ago(1))]

    response = await client.post("/check-ins/sync", json={"scans": scans}, headers=device)

    assert response.status_code == 200, response.text
    assert [answer["result"] for answer in response.json()["results"]] == ["valid", "valid"]
    assert len(calls) == 2
    assert await logged(db) == [(tickets[0]["id"], "valid"), (tickets[1]["id"], "valid")]
    assert await used(db, [tickets[0]["id"], tickets[1]["id"]]) == ["used", "used"]


async def test_a_gate_delete_that_was_the_victim_is_done(client, db, settings, monkeypatch) -> None:
    """Through SQLAlchemy the error comes wrapped (`sqlalchemy.exc.OperationalError`); the session
    is rolled back and the delete run again: 204, the gate gone, its scanner revoked."""
    admin, gate_id, scanner_id = await gate_with_scanner(client, db, settings)
    wrapped = exc.OperationalError("DELETE FROM gates WHERE gates.id = %s", (gate_id,), DEADLOCK)
    calls = victim(monkeypatch, GateService, "_remove_gate", wrapped)

    response = await client.delete(f"/gates/{gate_id}", headers=admin.headers)

    assert response.status_code == 204, response.text
    assert len(calls) == 2
    async with db() as session:
        assert await session.get(Gate, gate_id) is None
        assert (await session.get(Scanner, scanner_id)).revoked_at is not None


async def test_a_victim_every_time_is_not_run_more_than_three_times(
    client, db, settings, monkeypatch
) -> None:
    """After the third attempt the delete answers 503 with `Retry-After`, nothing kept (the gate
    stays, its scanner unrevoked)."""
    admin, gate_id, scanner_id = await gate_with_scanner(client, db, settings)
    wrapped = exc.OperationalError("DELETE FROM gates", (gate_id,), DEADLOCK)
    calls = victim(monkeypatch, GateService, "_remove_gate", wrapped, times=3)
    response = await client.delete(f"/gates/{gate_id}", headers=admin.headers)

    assert_busy(response)
    assert len(calls) == 3
    async with db() as session:
        assert await session.get(Gate, gate_id) is not None
        assert (await session.get(Scanner, scanner_id)).revoked_at is None


def assert_busy(response) -> None:
    """503 with `Retry-After`: send it again."""
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "1"
    assert response.json() == {
        "status_code": 503,
        "detail": "the database is busy: send the request again",
        "extra": {},
    }


async def test_a_scan_the_victim_every_time_keeps_nothing(client, db, settings, monkeypatch) -> None:
    staff, ticket = await staff_and_ticket(client, db, settings)
    calls = victim(monkeypatch, DoorStatements, "record_scan", times=3)

    response = await client.post(f"/tickets/{ticket['code']}/validate", headers=staff.headers)

    assert_busy(response)
    assert len(calls) == 3
    assert await logged(db) == []
    assert await used(db, [ticket["id"]]) == ["active"]
    again = await client.post(f"/tickets/{ticket['code']}/validate", headers=staff.headers)
    assert again.json()["result"] == "valid", again.text  # sent again: admitted


async def test_a_batch_the_victim_every_time_keeps_nothing(client, db, settings, monkeypatch) -> None:
    _, device, [ticket] = await device_and_tickets(client, db, settings)
    calls = victim(monkeypatch, SyncStatements, "write", times=3)
    scans = [scan(ticket["code"], minutes_ago(1))]

    response = await client.post("/check-ins/sync", json={"scans": scans}, headers=device)

    assert_busy(response)
    assert len(calls) == 3
    assert await logged(db) == []
    assert await used(db, [ticket["id"]]) == ["active"]
    again = await client.post("/check-ins/sync", json={"scans": scans}, headers=device)
    assert [answer["result"] for answer in again.json()["results"]] == ["valid"], again.text


async def test_a_devices_last_seen_write_that_was_the_victim_leaves_the_scan_answered(
    client, db, settings, monkeypatch
) -> None:
    """`last_seen_at` is written after the scan's commit, in a transaction of its own: chosen as a
    deadlock's victim, it is left for the device's next scan, and the scan's answer stands."""
    scanner_id, device, [ticket] = await device_and_tickets(client, db, settings)
    async with db() as session:  # due: not written for a while
        await session.execute(update(Scanner).where(Scanner.id == scanner_id).values(last_seen_at=None))
        await session.commit()
    fetchall = DriverConnection.fetchall
    victims: list[int] = []

    async def deadlocked_on_the_device_row(self, statement, *args, **kwargs):
        if statement == LOCK_DEVICE_IF_FREE.of(self.is_sqlite):
            victims.append(1)
            raise DEADLOCK
        return await fetchall(self, statement, *args, **kwargs)

    monkeypatch.setattr(DriverConnection, "fetchall", deadlocked_on_the_device_row)
    response = await client.post(f"/tickets/{ticket['code']}/validate", json={}, headers=device)

    assert response.status_code == 200, response.text
    assert response.json()["result"] == "valid"
    assert victims == [1]  # the write was due and tried once
    assert await logged(db) == [(ticket["id"], "valid")]
    async with db() as session:
        assert (await session.get(Scanner, scanner_id)).last_seen_at is None
