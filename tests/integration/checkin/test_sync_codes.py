"""What a sync batch trusts of a scanned code: only what the online door trusts, and nothing locked
before it is verified; and refused scans decided by scan time, not by their place in the batch."""

from __future__ import annotations

import asyncio
import hashlib
import os

import msgspec
import pytest
from sqlalchemy import select, text, update

from tests.integration.checkin.offline_support import minutes_ago, pair_device, scan, signed_tickets
from tests.support.api import make_actor, make_event
from tests.support.databases import waiting_for_row_locks
from ticketflow.db.config import create_engine
from ticketflow.db.driver_pool import create_driver_pool
from ticketflow.db.models.checkins import CheckIn
from ticketflow.db.models.tickets import Ticket
from ticketflow.domain.checkin.door import digest
from ticketflow.domain.checkin.offline_schemas import OfflineScan
from ticketflow.domain.checkin.service import Device
from ticketflow.domain.checkin.sync import SyncService
from ticketflow.lib.signed_codes import PAYLOAD, PAYLOAD_FORMAT, SIGNED_CODE_PREFIX, TicketSigner, b64url

FORGERIES = 40


def forged(ticket_id: int, event_id: int, type_id: int, version: int = 1) -> str:
    """A code of the right shape naming a real ticket, with a random signature."""
    payload = PAYLOAD.pack(PAYLOAD_FORMAT, 0, ticket_id, event_id, type_id, version)
    return SIGNED_CODE_PREFIX + b64url(payload + os.urandom(64))


async def rows_of(db, event_id: int) -> list[tuple[str | None, int | None, str, str | None]]:
    async with db() as session:
        rows = await session.execute(
            select(CheckIn.client_id, CheckIn.ticket_id, CheckIn.result, CheckIn.reason)
            .where(CheckIn.door_event_id == event_id)
            .order_by(CheckIn.id)
        )
        return [tuple(row) for row in rows]


async def statuses(db, ticket_ids: list[int]) -> list[str]:
    async with db() as session:
        return list(
            await session.scalars(select(Ticket.status).where(Ticket.id.in_(ticket_ids)).order_by(Ticket.id))
        )


async def test_forged_codes_of_another_events_tickets_lock_nothing_and_are_unknown(
    client, db, settings, database_url
) -> None:
    """Any scanner token could send a batch of `tf2.`-shaped codes with random signatures naming
    another event's tickets. They are verified before anything is locked: none of that event's
    tickets is locked for the batch (an online scan there does not wait), and each is answered
    `invalid`/`unknown`. A genuine code of the other event is `wrong_event`, unlocked too."""
    admin = await make_actor(client, db, role="admin")
    holder = await make_actor(client, db)
    elsewhere = await make_event(client, admin, title="Another night")
    theirs = await signed_tickets(client, db, settings, holder, elsewhere["id"], quantity=3)
    event = await make_event(client, admin, title="Our night")
    (ours,) = await signed_tickets(client, db, settings, holder, event["id"])
    assert max(t["id"] for t in theirs) < ours["id"]  # locked in id order: theirs would come first
    device_id, device = await pair_device(client, admin, event["id"])
    at = minutes_ago(2)
    scans = [
        scan(forged(t["id"], elsewhere["id"], t["ticket_type_id"]), at, client_id=f"forged-{n}-{t['id']}")
        for n in range(FORGERIES // len(theirs))
        for t in theirs
    ]
    scans += [
        scan(
            forged(theirs[0]["id"], event["id"], theirs[0]["ticket_type_id"]),
            at,
            client_id="our-event-claimed",
        ),
        scan(theirs[1]["code"], at, client_id="genuine-elsewhere"),
        scan(ours["code"], at, client_id="ours"),
    ]

    if database_url.startswith("sqlite"):  # one writer at a time: no row locks to look at
        answers = (await client.post("/check-ins/sync", json={"scans": scans}, headers=device)).json()
    else:
        answers = await sync_while_ours_is_held(db, settings, device_id, device, scans, ours, theirs)

    results = {r["client_id"]: (r["result"], r.get("reason")) for r in answers["results"]}
    assert results.pop("ours") == ("valid", None)
    assert results.pop("genuine-elsewhere") == ("invalid", "wrong_event")
    assert set(results.values()) == {("invalid", "unknown")}
    rows = await rows_of(db, event["id"])
    assert {(client_id, ticket_id) for client_id, ticket_id, _, _ in rows if client_id != "ours"} == {
        (s["client_id"], None) for s in scans if s["client_id"] != "ours"
    }
    async with db() as session:  # none of the other event's tickets named on the log
        assert (
            list(await session.scalars(select(CheckIn.id).where(CheckIn.event_id == elsewhere["id"]))) == []
        )
    assert await statuses(db, [t["id"] for t in theirs]) == ["active"] * 3
    assert await statuses(db, [ours["id"]]) == ["used"]
    online = await client.post(f"/tickets/{theirs[0]['code']}/validate", headers=admin.headers)
    assert online.json()["result"] == "valid", online.text


async def sync_while_ours_is_held(db, settings, device_id, device, scans, ours, theirs):
    """The batch, made to wait for our ticket (held by an open transaction) while the other
    event's tickets are tried without waiting (`NOWAIT`): none is locked."""
    token = device["Authorization"].removeprefix("Bearer ")
    engine = create_engine(settings)
    syncing = SyncService(create_driver_pool(engine, 2), TicketSigner.from_settings(settings))
    batch = msgspec.json.decode(msgspec.json.encode(scans), type=list[OfflineScan])
    try:
        async with db() as holding:
            await holding.execute(update(Ticket).where(Ticket.id == ours["id"]).values(attendee_name="Held"))
            sync = asyncio.create_task(syncing.sync(Device(device_id, digest(token)), batch))
            await waiting_for_row_locks(db, "%FROM tickets%FOR UPDATE", sync)
            async with db() as door:
                for their in theirs:  # one row each: a range would also lock the row after it
                    locked = await door.execute(
                        text("SELECT id FROM tickets WHERE id = :id FOR UPDATE NOWAIT"), {"id": their["id"]}
                    )
                    assert locked.scalar_one() == their["id"]  # not held by the batch
                await door.rollback()
            await holding.rollback()
        answers = await sync
    finally:
        await syncing.drivers.close()
        await engine.dispose()
    return {"results": [msgspec.to_builtins(answer) for answer in answers]}


async def test_a_code_of_a_retired_key_is_answered_as_at_the_door(client, db, settings) -> None:
    """A key removed from TICKET_SIGNING_KEYS retires every code it signed, the ones stored on
    tickets included: the sync answers what the online door answers (`unknown`), admits no one."""
    admin = await make_actor(client, db, role="admin")
    holder = await make_actor(client, db)
    event = await make_event(client, admin, title="Rotated keys")
    first, second = await signed_tickets(client, db, settings, holder, event["id"], quantity=2)
    retired = TicketSigner([(7, hashlib.sha256(b"a key no longer listed").digest())])
    codes = {}
    async with db() as session:
        for ticket in (first, second):
            codes[ticket["id"]] = retired.sign(
                ticket["id"], event["id"], ticket["ticket_type_id"], ticket["version"]
            )
            await session.execute(
                update(Ticket).where(Ticket.id == ticket["id"]).values(code=codes[ticket["id"]])
            )
        await session.commit()
    _, device = await pair_device(client, admin, event["id"])

    online = await client.post(f"/tickets/{codes[first['id']]}/validate", headers=device)
    synced = await client.post(
        "/check-ins/sync",
        json={"scans": [scan(codes[second["id"]], minutes_ago(1), client_id="retired")]},
        headers=device,
    )

    assert synced.status_code == 200, synced.text
    (answer,) = synced.json()["results"]
    assert (online.json()["result"], online.json()["reason"]) == ("invalid", "unknown")
    assert (answer["result"], answer.get("reason")) == ("invalid", "unknown")
    assert await statuses(db, [first["id"], second["id"]]) == ["active", "active"]
    rows = await rows_of(db, event["id"])
    assert [(ticket_id, result, reason) for _, ticket_id, result, reason in rows] == [
        (None, "invalid", "unknown"),
        (None, "invalid", "unknown"),
    ]


@pytest.mark.parametrize("refused_first", [True, False], ids=["refused-sent-first", "admission-sent-first"])
async def test_a_refused_scan_after_an_admission_is_already_used_whatever_the_batch_order(
    client, db, settings, refused_first
) -> None:
    """One ticket: admitted offline at 10:05 on one phone, refused at 10:06 (the phone had seen it
    pass). The refusal is `already_used` whichever of the two the batch lists first."""
    admin = await make_actor(client, db, role="admin")
    holder = await make_actor(client, db)
    event = await make_event(client, admin, title="Order of scans")
    (ticket,) = await signed_tickets(client, db, settings, holder, event["id"])
    _, device = await pair_device(client, admin, event["id"])
    admitted = scan(ticket["code"], minutes_ago(3), client_id="admitted")
    refused = scan(ticket["code"], minutes_ago(2), result="already_used", client_id="refused")
    scans = [refused, admitted] if refused_first else [admitted, refused]

    response = await client.post("/check-ins/sync", json={"scans": scans}, headers=device)

    assert response.status_code == 200, response.text
    answers = {r["client_id"]: (r["result"], r.get("reason")) for r in response.json()["results"]}
    assert answers == {"admitted": ("valid", None), "refused": ("already_used", None)}
    rows = {
        client_id: (ticket_id, result, reason)
        for client_id, ticket_id, result, reason in await rows_of(db, event["id"])
    }
    assert rows == {
        "admitted": (ticket["id"], "valid", None),
        "refused": (ticket["id"], "already_used", None),
    }
    assert await statuses(db, [ticket["id"]]) == ["used"]
    # and a refusal earlier than every admission is still the device's own refusal
    earlier = scan(ticket["code"], minutes_ago(4), result="invalid", client_id="before")
    again = await client.post("/check-ins/sync", json={"scans": [earlier]}, headers=device)
    assert [(r["result"], r.get("reason")) for r in again.json()["results"]] == [
        ("invalid", "refused_offline")
    ]
