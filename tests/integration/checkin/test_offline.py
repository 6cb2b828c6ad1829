"""Offline scanning: the scanner bundle, the sync of offline scans, the double-admission report."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib

import msgspec
import pytest
from sqlalchemy import select, update

from tests.integration.checkin.offline_support import (
    minutes_ago,
    pair_device,
    reissue,
    scan,
    signed_tickets,
)
from tests.support.api import make_actor, make_event
from tests.support.databases import gate_counts, waiting_for_row_locks
from ticketflow.db import driver
from ticketflow.db.config import create_engine
from ticketflow.db.driver_pool import create_driver_pool
from ticketflow.db.models.checkins import CheckIn
from ticketflow.db.models.gates import ScannerSync
from ticketflow.db.models.tickets import Ticket
from ticketflow.domain.checkin.door import digest
from ticketflow.domain.checkin.offline_schemas import OfflineScan
from ticketflow.domain.checkin.service import Device
from ticketflow.domain.checkin.sync import SyncService
from ticketflow.lib.signed_codes import TicketSigner
from ticketflow.lib.ticket_codes import new_ticket_code


@pytest.fixture
async def door(client, db, settings):
    admin = await make_actor(client, db, role="admin")
    holder = await make_actor(client, db, name="Grace Hopper")
    event = await make_event(client, admin, title="Offline night")
    tickets = await signed_tickets(client, db, settings, holder, event["id"], quantity=4)
    return admin, holder, event, tickets


async def check_ins(db):
    async with db() as session:
        rows = await session.execute(
            select(CheckIn.client_id, CheckIn.ticket_id, CheckIn.result, CheckIn.scanner_id).order_by(
                CheckIn.id
            )
        )
        return [tuple(row) for row in rows]


async def ticket_row(db, ticket_id):
    async with db() as session:
        return await session.get(Ticket, ticket_id)


async def test_the_bundle_has_keys_event_gates_and_revocations(client, db, settings, door) -> None:
    admin, _, event, tickets = door
    gate = await client.post(
        f"/events/{event['id']}/gates", json={"name": "North", "allow_reentry": True}, headers=admin.headers
    )
    scanner_id, device = await pair_device(client, admin, event["id"], gate_id=gate.json()["id"])
    cancelled = await client.post(f"/tickets/{tickets[0]['id']}/cancel", headers=admin.headers)
    assert cancelled.status_code == 200, cancelled.text
    await reissue(db, settings, tickets[1]["id"])

    response = await client.get(
        f"/events/{event['id']}/scanner-bundle", headers={**device, "Accept-Encoding": "gzip"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-encoding"] == "gzip"
    bundle = response.json()
    signer = TicketSigner.from_settings(settings)
    assert bundle["keys"] == [msgspec.to_builtins(key) for key in signer.public_keys()]
    assert bundle["event"]["id"] == event["id"]
    assert bundle["event"]["status"] == "scheduled"
    assert [t["id"] for t in bundle["ticket_types"]] == [t["id"] for t in event["ticket_types"]]
    assert bundle["gates"] == [
        {"id": gate.json()["id"], "name": "North", "ticket_type_ids": [], "allow_reentry": True}
    ]
    assert bundle["scanner_gate_id"] == gate.json()["id"]
    assert bundle["full"] is True
    assert bundle["revoked"] == [
        {"ticket_id": tickets[0]["id"], "version": 1},
        {"ticket_id": tickets[1]["id"], "version": 1},
    ]

    # Later: only what changed since the cursor (an old change falls outside the overlap).
    async with db() as session:
        await session.execute(
            update(Ticket)
            .where(Ticket.id.in_([tickets[0]["id"], tickets[1]["id"]]))
            .values(updated_at=minutes_ago(60))
        )
        await session.commit()
    await reissue(db, settings, tickets[2]["id"])
    delta = await client.get(
        f"/events/{event['id']}/scanner-bundle",
        params={"since": bundle["cursor"]},
        headers={**device, "Accept-Encoding": "identity"},
    )
    assert delta.status_code == 200
    assert "content-encoding" not in delta.headers
    assert delta.json()["full"] is False
    assert delta.json()["revoked"] == [{"ticket_id": tickets[2]["id"], "version": 1}]
    assert int(delta.json()["cursor"]) >= int(bundle["cursor"])
    assert scanner_id


async def test_who_may_fetch_a_bundle(client, db, door) -> None:
    admin, holder, event, _ = door
    staff = await make_actor(client, db, role="staff")
    assert (
        await client.get(f"/events/{event['id']}/scanner-bundle", headers=staff.headers)
    ).status_code == 200
    assert (
        await client.get(f"/events/{event['id']}/scanner-bundle", headers=admin.headers)
    ).status_code == 200
    assert (
        await client.get(f"/events/{event['id']}/scanner-bundle", headers=holder.headers)
    ).status_code == 403
    assert (await client.get(f"/events/{event['id']}/scanner-bundle")).status_code == 401
    assert (await client.get("/events/999999/scanner-bundle", headers=staff.headers)).status_code == 404
    for since in ("abc", "1" * 21, "-5", ""):
        bad = await client.get(
            f"/events/{event['id']}/scanner-bundle", params={"since": since}, headers=staff.headers
        )
        assert bad.status_code == 400, since
    other = await make_event(client, admin, title="Elsewhere")
    scanner_id, device = await pair_device(client, admin, other["id"])
    assert (await client.get(f"/events/{event['id']}/scanner-bundle", headers=device)).status_code == 403
    assert (await client.post(f"/scanners/{scanner_id}/revoke", headers=admin.headers)).status_code == 200
    assert (await client.get(f"/events/{other['id']}/scanner-bundle", headers=device)).status_code == 401


async def test_two_devices_admit_one_ticket_offline(client, db, door) -> None:
    admin, _, event, tickets = door
    first_id, first = await pair_device(client, admin, event["id"])
    second_id, second = await pair_device(client, admin, event["id"])
    code = tickets[0]["code"]
    # The later scan arrives first: it counts, until the earlier one arrives.
    later = [scan(code, minutes_ago(1), client_id="b-1")]
    response = await client.post("/check-ins/sync", json={"scans": later}, headers=second)
    assert response.status_code == 200, response.text
    assert response.json()["results"] == [
        {"client_id": "b-1", "result": "valid", "check_in_id": response.json()["results"][0]["check_in_id"]}
    ]
    later_id = response.json()["results"][0]["check_in_id"]
    assert (await ticket_row(db, tickets[0]["id"])).status == "used"

    earlier = [scan(code, minutes_ago(2), client_id="a-1"), scan(tickets[1]["code"], minutes_ago(2))]
    response = await client.post("/check-ins/sync", json={"scans": earlier}, headers=first)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["result"] for r in results] == ["valid", "valid"]
    earlier_id = results[0]["check_in_id"]

    # Sent again, the later scan answers the server's current decision, and nothing is stored twice.
    replay = await client.post("/check-ins/sync", json={"scans": later}, headers=second)
    assert replay.json()["results"] == [
        {
            "client_id": "b-1",
            "result": "duplicate_admission",
            "duplicate_of": earlier_id,
            "check_in_id": later_id,
        }
    ]
    before = await check_ins(db)
    again = await client.post("/check-ins/sync", json={"scans": earlier}, headers=first)
    assert again.json() == response.json()
    assert await check_ins(db) == before
    assert [row[2] for row in before] == ["duplicate_admission", "valid", "valid"]
    used_at = (await ticket_row(db, tickets[0]["id"])).used_at
    assert abs((used_at - minutes_ago(2)).total_seconds()) < 30

    report = await client.get(f"/events/{event['id']}/duplicate-admissions", headers=admin.headers)
    assert report.status_code == 200, report.text
    body = report.json()
    assert (body["total"], body["limit"], body["offset"]) == (1, 20, 0)
    [item] = body["items"]
    assert item["ticket_id"] == tickets[0]["id"]
    assert [(a["check_in_id"], a["scanner_id"], a["result"]) for a in item["admissions"]] == [
        (earlier_id, first_id, "valid"),
        (later_id, second_id, "duplicate_admission"),
    ]
    empty = await client.get(
        f"/events/{event['id']}/duplicate-admissions", params={"offset": 1}, headers=admin.headers
    )
    assert (empty.json()["items"], empty.json()["total"]) == ([], 1)

    stats = await client.get(f"/events/{event['id']}/stats", headers=admin.headers)
    assert stats.json()["figures"]["duplicate_admissions"] == 1
    assert stats.json()["figures"]["scans_refused"] == 0

    # Online, the ticket is used: the door refuses it.
    online = await client.post(f"/tickets/{code}/validate", headers=first)
    assert online.status_code == 409


@pytest.mark.parametrize("returning", [True, False], ids=["insert-returning", "look-up-again"])
async def test_a_resent_scan_answers_its_new_decision_within_the_batch(
    client, db, door, monkeypatch, returning
) -> None:
    """The new rows' ids come back with the INSERT (MariaDB, SQLite) or from a second look-up by
    client id (MySQL 8): both answer the same."""
    if not returning:
        monkeypatch.setattr(driver, "returning", lambda *_: False)
    admin, _, event, tickets = door
    _, device = await pair_device(client, admin, event["id"])
    code = tickets[0]["code"]
    late = scan(code, minutes_ago(1), client_id="late")
    first = await client.post("/check-ins/sync", json={"scans": [late]}, headers=device)
    assert [r["result"] for r in first.json()["results"]] == ["valid"]
    late_id = first.json()["results"][0]["check_in_id"]

    scans = [
        late,
        scan(code, minutes_ago(2), client_id="early"),
        scan("junk", minutes_ago(2), client_id="junk"),
    ]
    response = await client.post("/check-ins/sync", json={"scans": scans}, headers=device)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    early_id, junk_id = results[1]["check_in_id"], results[2]["check_in_id"]
    assert results == [
        {
            "client_id": "late",
            "result": "duplicate_admission",
            "duplicate_of": early_id,
            "check_in_id": late_id,
        },
        {"client_id": "early", "result": "valid", "check_in_id": early_id},
        {"client_id": "junk", "result": "invalid", "reason": "unknown", "check_in_id": junk_id},
    ]
    rows = {row[0]: row for row in await check_ins(db)}
    assert rows["late"][2] == "duplicate_admission"
    assert rows["early"][1:3] == (tickets[0]["id"], "valid")
    assert rows["junk"][1:3] == (None, "invalid")
    assert len(rows) == 3


async def test_an_offline_scan_earlier_than_an_online_admission_takes_its_place(client, db, door) -> None:
    admin, _, event, tickets = door
    _, device = await pair_device(client, admin, event["id"])
    online = await client.post(f"/tickets/{tickets[0]['code']}/validate", headers=device)
    assert online.status_code == 200
    response = await client.post(
        "/check-ins/sync", json={"scans": [scan(tickets[0]["code"], minutes_ago(3))]}, headers=device
    )
    offline = response.json()["results"][0]
    assert offline["result"] == "valid"
    async with db() as session:
        online_row = await session.get(CheckIn, online.json()["check_in_id"])
    assert online_row.result == "duplicate_admission"


async def test_the_server_decides_each_code(client, db, settings, door) -> None:
    admin, _, event, tickets = door
    vip = await client.post(
        f"/events/{event['id']}/ticket-types", json={"name": "VIP"}, headers=admin.headers
    )
    assert vip.status_code == 201, vip.text
    gate = await client.post(
        f"/events/{event['id']}/gates",
        json={"name": "VIP", "ticket_type_ids": [vip.json()["id"]]},
        headers=admin.headers,
    )
    _, device = await pair_device(client, admin, event["id"])
    assert (
        await client.post(f"/tickets/{tickets[0]['id']}/cancel", headers=admin.headers)
    ).status_code == 200
    old_code = tickets[1]["code"]
    await reissue(db, settings, tickets[1]["id"])
    forged = TicketSigner([(0, hashlib.sha256(b"another key").digest())]).sign(
        tickets[2]["id"], event["id"], tickets[2]["ticket_type_id"], 1
    )
    at = minutes_ago(2)
    scans = [
        scan(tickets[0]["code"], minutes_ago(0), client_id="cancelled"),  # after its cancellation
        scan(old_code, at, client_id="reissued"),
        scan(forged, at, client_id="forged"),
        scan("not a code", at, result="invalid", client_id="garbage"),
        scan(tickets[2]["code"], at, gate_id=gate.json()["id"], client_id="wrong-gate"),
        scan(tickets[3]["code"], at, result="invalid", client_id="refused"),
        scan(tickets[3]["code"], minutes_ago(1), client_id="admitted"),
        scan(tickets[3]["code"], minutes_ago(0.5), result="already_used", client_id="again"),
    ]
    response = await client.post("/check-ins/sync", json={"scans": scans}, headers=device)
    assert response.status_code == 200, response.text
    answers = {r["client_id"]: (r["result"], r.get("reason")) for r in response.json()["results"]}
    assert answers == {
        "cancelled": ("invalid", "cancelled"),
        "reissued": ("invalid", "unknown"),
        "forged": ("invalid", "unknown"),
        "garbage": ("invalid", "unknown"),
        "wrong-gate": ("invalid", "wrong_gate"),
        "refused": ("invalid", "refused_offline"),
        "admitted": ("valid", None),
        "again": ("already_used", None),
    }
    assert (await ticket_row(db, tickets[2]["id"])).status == "active"
    assert (await ticket_row(db, tickets[3]["id"])).status == "used"
    admitted, _, refused = await gate_counts(db, gate.json()["id"])
    assert (admitted, refused) == (1, 0)  # what the device did at the gate


async def test_a_signed_code_names_its_ticket_only_as_issued_or_signed_by_us(
    client, db, settings, door
) -> None:
    """A `tf2.` code is matched to the ticket its payload names: taken as issued when the ticket
    holds exactly that code, verified when it differs. Forgeries naming real tickets are `unknown`
    and admit no one; a `tf1.` code is still looked up."""
    admin, _, event, tickets = door
    _, device = await pair_device(client, admin, event["id"])
    first, second, third, fourth = tickets
    stranger = TicketSigner([(0, hashlib.sha256(b"another key").digest())])
    same_payload = stranger.sign(first["id"], event["id"], first["ticket_type_id"], first["version"])
    assert same_payload[:20] == first["code"][:20]  # the same claims, another key's signature
    middle = len(first["code"]) // 2
    flipped = (
        first["code"][:middle] + ("B" if first["code"][middle] == "A" else "A") + first["code"][middle + 1 :]
    )
    next_version = stranger.sign(second["id"], event["id"], second["ticket_type_id"], second["version"] + 1)
    no_ticket = TicketSigner.from_settings(settings).sign(999_999, event["id"], None, 1)
    old_style = new_ticket_code()
    async with db() as session:
        await session.execute(update(Ticket).where(Ticket.id == fourth["id"]).values(code=old_style))
        await session.commit()
    at = minutes_ago(3)
    scans = [
        scan(same_payload, at, client_id="same-payload"),
        scan(flipped, at, client_id="flipped"),
        scan(next_version, at, client_id="next-version"),
        scan(no_ticket, at, client_id="no-ticket"),
        scan(third["code"], at, client_id="issued"),
        scan(old_style, at, client_id="tf1"),
    ]
    response = await client.post("/check-ins/sync", json={"scans": scans}, headers=device)
    assert response.status_code == 200, response.text
    answers = {r["client_id"]: (r["result"], r.get("reason")) for r in response.json()["results"]}
    unknown = ("invalid", "unknown")
    assert answers == {
        "same-payload": unknown,
        "flipped": unknown,
        "next-version": unknown,
        "no-ticket": unknown,
        "issued": ("valid", None),
        "tf1": ("valid", None),
    }
    rows = {row[0]: row[1:3] for row in await check_ins(db)}
    assert rows == {
        "same-payload": (None, "invalid"),
        "flipped": (None, "invalid"),
        "next-version": (None, "invalid"),
        "no-ticket": (None, "invalid"),
        "issued": (third["id"], "valid"),
        "tf1": (fourth["id"], "valid"),
    }
    assert [(await ticket_row(db, t["id"])).status for t in tickets] == ["active", "active", "used", "used"]
    # The real codes still admit their tickets, first of all (the forgeries admitted no one).
    genuine = [scan(first["code"], minutes_ago(2)), scan(second["code"], minutes_ago(2))]
    response = await client.post("/check-ins/sync", json={"scans": genuine}, headers=device)
    assert [r["result"] for r in response.json()["results"]] == ["valid", "valid"]


@pytest.mark.parametrize(
    "change",
    [
        lambda _: {"scans": []},
        lambda scans: {"scans": scans * 501},
        lambda scans: {"scans": [scans[0], scans[0]]},
        lambda scans: {"scans": [{**scans[0], "scanned_at": minutes_ago(60 * 24).isoformat()}]},
        lambda scans: {"scans": [{**scans[0], "scanned_at": "2030-01-01T10:00:00"}]},
        lambda scans: {"scans": [{**scans[0], "client_id": "x" * 65}]},
        lambda scans: {"scans": [{**scans[0], "client_id": "a b"}]},
        lambda scans: {"scans": [{**scans[0], "offline_result": "maybe"}]},
        lambda scans: {"scans": [{**scans[0], "gate_id": 999999}]},
        lambda scans: {"scans": [{**scans[0], "direction": "out"}]},
        lambda scans: {"scans": [*scans, {**scans[0], "client_id": "z", "extra": 1}]},
    ],
)
async def test_a_bad_batch_changes_nothing(client, db, door, change) -> None:
    admin, _, event, tickets = door
    _, device = await pair_device(client, admin, event["id"])
    scans = [scan(tickets[0]["code"], minutes_ago(2)), scan(tickets[1]["code"], minutes_ago(2))]
    response = await client.post("/check-ins/sync", json=change(scans), headers=device)
    assert 400 <= response.status_code < 500, response.text
    assert await check_ins(db) == []
    assert (await ticket_row(db, tickets[0]["id"])).status == "active"


async def test_a_scan_dated_ahead_of_the_server_is_dated_when_its_batch_came(client, db, door) -> None:
    """A phone whose clock runs an hour fast: its admission is recorded, not refused (refusing it
    would lose it, and the ticket would admit again), at the time the batch reached the server."""
    admin, _, event, tickets = door
    _, device = await pair_device(client, admin, event["id"])
    before = dt.datetime.now(dt.UTC)
    body = {"scans": [scan(tickets[0]["code"], minutes_ago(-60), client_id="fast-clock")]}

    response = await client.post("/check-ins/sync", json=body, headers=device)

    assert response.status_code == 200, response.text
    assert [r["result"] for r in response.json()["results"]] == ["valid"]
    assert (await ticket_row(db, tickets[0]["id"])).status == "used"
    async with db() as session:
        recorded = await session.scalar(select(CheckIn.scanned_at).where(CheckIn.client_id == "fast-clock"))
    assert recorded is not None
    recorded = recorded.replace(tzinfo=dt.UTC) if recorded.tzinfo is None else recorded
    assert before - dt.timedelta(seconds=1) <= recorded <= dt.datetime.now(dt.UTC)


async def test_only_a_paired_scanner_syncs(client, db, door) -> None:
    admin, _, event, tickets = door
    body = {"scans": [scan(tickets[0]["code"], minutes_ago(1))]}
    assert (await client.post("/check-ins/sync", json=body, headers=admin.headers)).status_code == 403
    assert (await client.post("/check-ins/sync", json=body)).status_code == 401
    scanner_id, device = await pair_device(client, admin, event["id"])
    assert (await client.post(f"/scanners/{scanner_id}/revoke", headers=admin.headers)).status_code == 200
    assert (await client.post("/check-ins/sync", json=body, headers=device)).status_code == 401
    assert await check_ins(db) == []


async def test_duplicates_report_is_for_admins(client, db, door) -> None:
    admin, holder, event, _ = door
    staff = await make_actor(client, db, role="staff")
    path = f"/events/{event['id']}/duplicate-admissions"
    assert (await client.get(path, headers=staff.headers)).status_code == 403
    assert (await client.get(path, headers=holder.headers)).status_code == 403
    assert (await client.get("/events/999999/duplicate-admissions", headers=admin.headers)).status_code == 404
    assert (await client.get(path, params={"limit": 0}, headers=admin.headers)).status_code == 400
    assert (await client.get(path, headers=admin.headers)).json() == {
        "items": [],
        "total": 0,
        "limit": 20,
        "offset": 0,
    }


@pytest.mark.parametrize("reentry", [True, False], ids=["re-entry-gate", "no-re-entry"])
async def test_an_offline_exit_leaves_the_ticket_outside(client, db, door, reentry) -> None:
    """After the sync the online door knows the ticket left: at a re-entry gate it admits it back,
    elsewhere it refuses it as used."""
    admin, _, event, tickets = door
    gate = await client.post(
        f"/events/{event['id']}/gates", json={"name": "Main", "allow_reentry": reentry}, headers=admin.headers
    )
    assert gate.status_code == 201, gate.text
    gate_id = gate.json()["id"]
    _, device = await pair_device(client, admin, event["id"], gate_id=gate_id)
    code, stays = tickets[0]["code"], tickets[1]["code"]
    scans = [
        scan(code, minutes_ago(3)),
        scan(stays, minutes_ago(3)),
        scan(code, minutes_ago(2), result="exited", direction="out"),
    ]
    response = await client.post("/check-ins/sync", json={"scans": scans}, headers=device)
    assert response.status_code == 200, response.text
    assert [r["result"] for r in response.json()["results"]] == ["valid", "valid", "exited"]
    left = await ticket_row(db, tickets[0]["id"])
    assert left.status == ("active" if reentry else "used")
    assert left.left_at is not None
    assert abs((left.left_at - minutes_ago(2)).total_seconds()) < 30
    inside = await ticket_row(db, tickets[1]["id"])
    assert (inside.status, inside.left_at) == ("used", None)
    assert await gate_counts(db, gate_id) == (2, 1, 0)

    online = await client.post(f"/tickets/{code}/validate", headers=device)
    if reentry:
        assert online.status_code == 200, online.text
        assert online.json()["result"] == "valid"
        back = await ticket_row(db, tickets[0]["id"])
        assert (back.status, back.left_at) == ("used", None)
    else:
        assert online.status_code == 409, online.text
        assert online.json()["result"] == "already_used"
        assert (await ticket_row(db, tickets[0]["id"])).status == "used"


async def test_an_earlier_code_answers_as_at_the_door(client, db, door) -> None:
    """A code a transfer took away - a signed code of the earlier version, or a `tf1.` code - is
    `transferred`; a code replaced by a reissue - signed, or `tf1.` - is `unknown`: the sync answers
    what the online door answers, and logs every such scan with its ticket as the door does."""
    admin, holder, event, tickets = door
    newcomer = await make_actor(client, db, name="Ada Lovelace")
    given, replaced = tickets[0], tickets[1]
    old_style, old_replaced = ({**ticket, "code": new_ticket_code()} for ticket in tickets[2:])
    async with db() as session:
        for ticket in (old_style, old_replaced):
            await session.execute(update(Ticket).where(Ticket.id == ticket["id"]).values(code=ticket["code"]))
        await session.commit()
    for ticket in (given, old_style):
        moved = await client.post(
            f"/tickets/{ticket['id']}/transfer", json={"email": newcomer.email}, headers=holder.headers
        )
        assert moved.status_code == 200, moved.text
    for ticket in (replaced, old_replaced):
        reissued = await client.post(f"/tickets/{ticket['id']}/reissue", headers=admin.headers)
        assert reissued.status_code == 200, reissued.text
    _, device = await pair_device(client, admin, event["id"])
    earlier = (given, replaced, old_style, old_replaced)
    # scanned after the transfers and reissues (before them, the codes were the tickets' own)
    scans = [scan(ticket["code"], minutes_ago(0), client_id=f"t-{ticket['id']}") for ticket in earlier]
    response = await client.post("/check-ins/sync", json={"scans": scans}, headers=device)
    assert response.status_code == 200, response.text
    synced = [(r["result"], r.get("reason")) for r in response.json()["results"]]
    assert synced == [
        ("invalid", "transferred"),
        ("invalid", "unknown"),
        ("invalid", "transferred"),
        ("invalid", "unknown"),
    ]
    online = [await client.post(f"/tickets/{t['code']}/validate", headers=device) for t in earlier]
    assert [(r.json()["result"], r.json()["reason"]) for r in online] == synced
    async with db() as session:
        logged = await session.execute(select(CheckIn.scanned_code, CheckIn.ticket_id, CheckIn.event_id))
        rows = sorted((tuple(row) for row in logged), key=repr)
    assert rows == sorted(  # the sync's row and the door's, each naming its ticket
        [(t["code"], t["id"], event["id"]) for t in earlier for _ in range(2)], key=repr
    )
    for answer in (online[1], online[3]):
        assert "ticket" not in answer.json()  # a replaced code's answer names no one
    for ticket in earlier:
        assert (await ticket_row(db, ticket["id"])).status == "active"


async def test_a_replaced_code_tried_offline_is_logged_with_its_ticket_and_admits_no_one(
    client, db, settings, door
) -> None:
    """A device that had not yet heard of the reissue let the old code in; the sync refuses it
    (`unknown`, as the door does) and logs it with its ticket. The row is no admission: the
    ticket's new code is then the first admission (not a duplicate), the double-admission report
    stays empty, the stats count one refused scan, and the scan log by ticket shows the attempt."""
    admin, _, event, tickets = door
    _, device = await pair_device(client, admin, event["id"])
    leaked = tickets[0]
    new_code = await reissue(db, settings, leaked["id"])
    scans = [
        scan(leaked["code"], minutes_ago(3), client_id="leaked"),
        scan(new_code, minutes_ago(2), client_id="holder"),
    ]
    response = await client.post("/check-ins/sync", json={"scans": scans}, headers=device)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [(r["result"], r.get("reason")) for r in results] == [("invalid", "unknown"), ("valid", None)]
    again = await client.post(
        "/check-ins/sync", json={"scans": [scan(new_code, minutes_ago(1), client_id="copy")]}, headers=device
    )
    [copy] = again.json()["results"]
    assert (copy["result"], copy["duplicate_of"]) == ("duplicate_admission", results[1]["check_in_id"])

    rows = {row[0]: row[1:3] for row in await check_ins(db)}
    assert rows == {
        "leaked": (leaked["id"], "invalid"),
        "holder": (leaked["id"], "valid"),
        "copy": (leaked["id"], "duplicate_admission"),
    }
    report = (await client.get(f"/events/{event['id']}/duplicate-admissions", headers=admin.headers)).json()
    [item] = report["items"]
    assert [a["check_in_id"] for a in item["admissions"]] == [results[1]["check_in_id"], copy["check_in_id"]]
    stats = (await client.get(f"/events/{event['id']}/stats", headers=admin.headers)).json()["figures"]
    assert (stats["scans_refused"], stats["duplicate_admissions"]) == (1, 1)
    logged = await client.get("/check-ins", params={"ticket_id": leaked["id"]}, headers=admin.headers)
    assert [c["reason"] for c in logged.json()["items"]] == [None, None, "unknown"]


@pytest.mark.parametrize(
    ("out_reentry", "in_reentry", "back"),
    [(True, False, "valid"), (False, True, "duplicate_admission")],
    ids=["out-at-re-entry-gate", "out-at-other-gate"],
)
async def test_the_exit_gate_decides_a_return(client, db, door, out_reentry, in_reentry, back) -> None:
    """As at the door: a ticket that left by a re-entry gate may come back by any gate; one that
    left by a gate without re-entry may not, even by a re-entry gate."""
    admin, _, event, tickets = door
    gates = []
    for name, reentry in (("Out", out_reentry), ("In", in_reentry)):
        gate = await client.post(
            f"/events/{event['id']}/gates",
            json={"name": name, "allow_reentry": reentry},
            headers=admin.headers,
        )
        assert gate.status_code == 201, gate.text
        gates.append(gate.json()["id"])
    out_gate, in_gate = gates
    _, device = await pair_device(client, admin, event["id"])
    code = tickets[0]["code"]
    scans = [
        scan(code, minutes_ago(4), gate_id=in_gate),
        scan(code, minutes_ago(3), result="exited", direction="out", gate_id=out_gate),
        scan(code, minutes_ago(2), gate_id=in_gate),
    ]
    response = await client.post("/check-ins/sync", json={"scans": scans}, headers=device)
    assert response.status_code == 200, response.text
    assert [r["result"] for r in response.json()["results"]] == ["valid", "exited", back]
    row = await ticket_row(db, tickets[0]["id"])
    assert (row.status, row.left_at is None) == ("used", back == "valid")


@pytest.mark.parametrize("database_url", ["mysql"], indirect=True)
async def test_a_sync_waiting_for_a_ticket_lets_the_devices_door_scan_finish(client, db, settings) -> None:
    """The cycle step by step on two connections: the device's online scan has locked its ticket
    (the admitting UPDATE), the device's sync waits for that ticket, then the scan writes its log
    row (a foreign key to the device's scanner row). Nothing the sync holds stops it: no deadlock,
    and the sync then finds the admission and decides around it. MariaDB only: SQLite has one
    writer at a time, so there are no row locks to cycle on."""
    admin = await make_actor(client, db, role="admin")
    holder = await make_actor(client, db)
    event = await make_event(client, admin, title="Busy door")
    device_id, device = await pair_device(client, admin, event["id"])
    token = device["Authorization"].removeprefix("Bearer ")
    async with db() as session:
        assert await session.get(ScannerSync, device_id) is not None  # made with the device
    engine = create_engine(settings)
    syncing = SyncService(create_driver_pool(engine, 2), TicketSigner.from_settings(settings))
    try:
        for _ in range(3):
            await door_scan_during_sync(client, db, settings, syncing, event["id"], holder, device_id, token)
    finally:
        await syncing.drivers.close()
        await engine.dispose()


async def door_scan_during_sync(client, db, settings, syncing, event_id, holder, device_id, token) -> None:
    """One round: the online scan locks its ticket, the sync waits for it, the scan logs and commits."""
    ticket, other = await signed_tickets(client, db, settings, holder, event_id, quantity=2)
    async with db() as door:
        admitted = await door.execute(
            update(Ticket)
            .where(Ticket.id == ticket["id"], Ticket.status == "active")
            .values(status="used", used_at=minutes_ago(0))
        )
        assert admitted.rowcount == 1
        scans = [scan(other["code"], minutes_ago(2)), scan(ticket["code"], minutes_ago(1))]
        batch = msgspec.json.decode(msgspec.json.encode(scans), type=list[OfflineScan])
        sync = asyncio.create_task(syncing.sync(Device(device_id, digest(token)), batch))
        await waiting_for_row_locks(db, "%FROM tickets%FOR UPDATE", sync)
        door.add(
            CheckIn(
                ticket_id=ticket["id"],
                event_id=event_id,
                door_event_id=event_id,
                scanned_code=ticket["code"],
                result="valid",
                scanner_id=device_id,
            )
        )
        await door.commit()
    assert [answer.result for answer in await sync] == ["valid", "valid"]
    async with db() as session:
        rows = await session.execute(
            select(CheckIn.client_id, CheckIn.result).where(CheckIn.ticket_id == ticket["id"])
        )
        assert sorted(rows, key=lambda row: row[0] is None) == [
            (scans[1]["client_id"], "valid"),
            (None, "duplicate_admission"),  # the offline scan was earlier
        ]


async def test_a_code_admitted_offline_before_its_transfer_counts_and_the_new_holder_is_the_duplicate(
    client, db, door
) -> None:
    """Admitted offline under its first code, then given away, the ticket is admitted online under
    its new code: the sync judges the offline scan as the ticket was when it was made (its code
    then), so the report shows the ticket admitted twice - not an old code refused."""
    admin, holder, event, tickets = door
    _, device = await pair_device(client, admin, event["id"])
    given = tickets[0]
    admitted_offline = minutes_ago(0)
    newcomer = await make_actor(client, db, name="Ada Lovelace")
    moved = await client.post(
        f"/tickets/{given['id']}/transfer", json={"email": newcomer.email}, headers=holder.headers
    )
    assert moved.status_code == 200, moved.text
    new_code = (await client.get(f"/tickets/{given['id']}", headers=newcomer.headers)).json()["code"]
    online = await client.post(f"/tickets/{new_code}/validate", headers=device)
    assert online.json()["result"] == "valid"
    after = scan(given["code"], minutes_ago(0), result="valid", client_id="after-transfer")

    response = await client.post(
        "/check-ins/sync",
        json={"scans": [scan(given["code"], admitted_offline, client_id="before-transfer"), after]},
        headers=device,
    )

    assert response.status_code == 200, response.text
    first, late = response.json()["results"]
    assert (first["result"], late["result"], late.get("reason")) == ("valid", "invalid", "transferred")
    async with db() as session:
        online_row = await session.get(CheckIn, online.json()["check_in_id"])
    assert online_row.result == "duplicate_admission"
    report = await client.get(f"/events/{event['id']}/duplicate-admissions", headers=admin.headers)
    [item] = report.json()["items"]
    assert item["ticket_id"] == given["id"]
    assert [a["check_in_id"] for a in item["admissions"]] == [first["check_in_id"], online_row.id]
    ticket = await ticket_row(db, given["id"])
    assert ticket.status == "used"
    assert abs((ticket.used_at.replace(tzinfo=dt.UTC) - admitted_offline).total_seconds()) < 1


async def test_a_ticket_admitted_offline_then_cancelled_keeps_its_admission(client, db, door) -> None:
    """Admitted offline, then cancelled (and refunded) before the phone synced: the holder is
    inside, so the admission counts; the ticket stays cancelled. A scan after the cancellation is
    refused as the door refuses it."""
    admin, holder, event, tickets = door
    _, device = await pair_device(client, admin, event["id"])
    ticket, refused = tickets[0], tickets[1]
    admitted_offline = minutes_ago(0)
    for gone in (ticket, refused):
        cancelled = await client.post(f"/tickets/{gone['id']}/cancel", headers=holder.headers)
        assert cancelled.status_code == 200, cancelled.text
    later = scan(ticket["code"], minutes_ago(0), client_id="after-cancel")
    # refused by the device, which knew of the cancellation, though its clock dates it before
    knew = scan(refused["code"], admitted_offline, result="invalid", client_id="refused-knowing")

    response = await client.post(
        "/check-ins/sync",
        json={"scans": [scan(ticket["code"], admitted_offline, client_id="before-cancel"), later, knew]},
        headers=device,
    )

    assert response.status_code == 200, response.text
    results = [(r["result"], r.get("reason")) for r in response.json()["results"]]
    assert results == [("valid", None), ("invalid", "cancelled"), ("invalid", "cancelled")]
    row = await ticket_row(db, ticket["id"])
    assert (row.status, row.used_at) == ("cancelled", None)
    online = await client.post(f"/tickets/{ticket['code']}/validate", headers=device)
    assert (online.json()["result"], online.json()["reason"]) == ("invalid", "cancelled")
