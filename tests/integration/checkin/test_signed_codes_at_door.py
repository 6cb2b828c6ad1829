"""The door online with signed codes: verified, found by the ticket id they carry, admitted only at
the ticket's current version; forged and retired-key codes are unknown; `tf1.` codes still work;
a rotated key list keeps admitting codes of the older key until it is removed."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update

from tests.support.api import buy, make_actor, make_event
from tests.support.databases import settings_for_tests
from ticketflow.app import create_app
from ticketflow.db.models.checkins import CheckIn
from ticketflow.db.models.tickets import ReplacedCode, Ticket
from ticketflow.lib.signed_codes import TicketSigner, generate_signing_key
from ticketflow.lib.ticket_codes import new_ticket_code
from ticketflow.settings import Settings, signing_key_entries

OLD_KEY = generate_signing_key(1)
NEW_KEY = generate_signing_key(2)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return settings_for_tests(database_url, ticket_signing_keys=OLD_KEY)


@pytest.fixture
async def door(client, db) -> tuple[Any, Any, dict[str, Any]]:
    admin = await make_actor(client, db, role="admin")
    staff = await make_actor(client, db, role="staff")
    event = await make_event(client, admin)
    holder = await make_actor(client, db, name="Grace Hopper")
    ticket = (await buy(client, holder, event["id"])).json()["tickets"][0]
    assert ticket["code"].startswith("tf2.")
    return staff, event, ticket


async def row_of(db: Any, ticket_id: int) -> tuple[str, int]:
    async with db() as session:
        row = (
            await session.execute(select(Ticket.status, Ticket.code_version).where(Ticket.id == ticket_id))
        ).one()
        return row.status, row.code_version


async def state_of(db: Any, ticket_id: int) -> tuple[Any, ...]:
    """Where the ticket is: status, version, admitted and left times."""
    async with db() as session:
        row = (
            await session.execute(
                select(Ticket.status, Ticket.code_version, Ticket.used_at, Ticket.left_at).where(
                    Ticket.id == ticket_id
                )
            )
        ).one()
        return tuple(row)


async def scan_log(db: Any) -> list[tuple[Any, ...]]:
    async with db() as session:
        rows = await session.execute(
            select(CheckIn.ticket_id, CheckIn.result, CheckIn.reason, CheckIn.scanned_code).order_by(
                CheckIn.id
            )
        )
        return [tuple(row) for row in rows]


async def test_a_signed_code_admits_once(client, db, door) -> None:
    staff, event, ticket = door

    first = await client.post(
        f"/tickets/{ticket['code']}/validate", json={"event_id": event["id"]}, headers=staff.headers
    )
    second = await client.post(f"/tickets/{ticket['code']}/validate", headers=staff.headers)

    assert (first.status_code, first.json()["result"]) == (200, "valid")
    assert first.json()["ticket"]["holder_name"] == "Grace Hopper"
    assert (second.status_code, second.json()["result"]) == (409, "already_used")
    assert await row_of(db, ticket["id"]) == ("used", 1)
    assert [row[:3] for row in await scan_log(db)] == [
        (ticket["id"], "valid", None),
        (ticket["id"], "already_used", None),
    ]


async def test_a_forged_code_is_unknown_and_changes_nothing(client, db, door) -> None:
    staff, event, ticket = door
    # the same claims under another key with the same key id: a forgery
    forger = TicketSigner(((1, signing_key_entries(generate_signing_key(1))[0][1]),))
    forged = forger.sign(ticket["id"], event["id"], ticket["ticket_type_id"], 1)
    retired = TicketSigner(signing_key_entries(NEW_KEY)).sign(
        ticket["id"], event["id"], ticket["ticket_type_id"], 1
    )

    answers = [
        await client.post(f"/tickets/{code}/validate", headers=staff.headers) for code in (forged, retired)
    ]

    assert [(a.status_code, a.json()["result"], a.json()["reason"]) for a in answers] == [
        (404, "invalid", "unknown")
    ] * 2
    assert await row_of(db, ticket["id"]) == ("active", 1)
    assert await scan_log(db) == [(None, "invalid", "unknown", forged), (None, "invalid", "unknown", retired)]


async def test_a_current_version_code_the_server_did_not_issue_admits_no_one(
    client, db, door, settings
) -> None:
    """A listed key that leaked signs codes of every ticket's current version: online, only the code
    the server issued the ticket admits (as the sync takes only that one), the others are unknown
    and their log rows name the ticket, so the organiser sees the leaked key used."""
    staff, event, ticket = door
    listed = create_app(settings.with_overrides(ticket_signing_keys=f"{NEW_KEY},{OLD_KEY}"))
    leaked = TicketSigner(signing_key_entries(NEW_KEY)).sign(
        ticket["id"], event["id"], ticket["ticket_type_id"], 1
    )
    assert leaked != ticket["code"]

    async with AsyncTestClient(app=listed) as door_client:
        forged = await door_client.post(
            f"/tickets/{leaked}/validate", json={"event_id": event["id"]}, headers=staff.headers
        )
        issued = await door_client.post(
            f"/tickets/{ticket['code']}/validate", json={"event_id": event["id"]}, headers=staff.headers
        )

    refused = (forged.status_code, forged.json()["result"], forged.json()["reason"])
    assert refused == (404, "invalid", "unknown")
    assert forged.json().get("ticket") is None
    assert (issued.status_code, issued.json()["result"]) == (200, "valid")
    assert await row_of(db, ticket["id"]) == ("used", 1)
    assert [row[:3] for row in await scan_log(db)] == [
        (ticket["id"], "invalid", "unknown"),
        (ticket["id"], "valid", None),
    ]


async def test_an_earlier_version_admits_no_one(client, db, door) -> None:
    staff, event, ticket = door
    async with db() as session:  # a reissue moved the ticket to version 2
        await session.execute(update(Ticket).where(Ticket.id == ticket["id"]).values(code_version=2))
        await session.commit()

    stale = await client.post(
        f"/tickets/{ticket['code']}/validate", json={"event_id": event["id"]}, headers=staff.headers
    )

    assert stale.status_code == 404
    assert (stale.json()["result"], stale.json()["reason"]) == ("invalid", "unknown")
    assert await row_of(db, ticket["id"]) == ("active", 2)


async def test_a_tf1_code_issued_before_keeps_working(client, db, door) -> None:
    staff, event, ticket = door
    old_code = new_ticket_code()
    async with db() as session:
        await session.execute(update(Ticket).where(Ticket.id == ticket["id"]).values(code=old_code))
        await session.commit()

    answer = await client.post(
        f"/tickets/{old_code}/validate", json={"event_id": event["id"]}, headers=staff.headers
    )

    assert (answer.status_code, answer.json()["ticket"]["id"]) == (200, ticket["id"])
    assert await row_of(db, ticket["id"]) == ("used", 1)


async def test_rotation_verifies_old_codes_until_the_key_is_removed(client, db, door, settings) -> None:
    staff, event, ticket = door
    rotated = create_app(settings.with_overrides(ticket_signing_keys=f"{NEW_KEY},{OLD_KEY}"))
    retired = create_app(settings.with_overrides(ticket_signing_keys=NEW_KEY))

    async with AsyncTestClient(app=retired) as without_old_key:
        refused = await without_old_key.post(f"/tickets/{ticket['code']}/validate", headers=staff.headers)
    async with AsyncTestClient(app=rotated) as with_both:
        holder = await make_actor(with_both, db)
        new_ticket = (await buy(with_both, holder, event["id"])).json()["tickets"][0]
        admitted = await with_both.post(f"/tickets/{ticket['code']}/validate", headers=staff.headers)
        admitted_new = await with_both.post(f"/tickets/{new_ticket['code']}/validate", headers=staff.headers)

    assert (refused.status_code, refused.json()["reason"]) == (404, "unknown")
    assert admitted.json()["result"] == "valid"
    assert admitted_new.json()["result"] == "valid"
    new_claims = TicketSigner(signing_key_entries(NEW_KEY)).verify(new_ticket["code"])
    assert (new_claims.kid, new_claims.ticket_id) == (2, new_ticket["id"])


async def test_a_replaced_code_is_unknown_but_logged_with_its_ticket(client, db, door) -> None:
    """A reissue replaced the code: the door answers as if it had never been issued (no ticket, no
    holder), while the scan log names the ticket, so the organiser sees the leaked code tried. The
    staff account that scanned it may not read the ticket (and its new code) for that scan."""
    staff, event, ticket = door
    admin = await make_actor(client, db, role="admin")
    reissued = await client.post(f"/tickets/{ticket['id']}/reissue", headers=admin.headers)
    assert reissued.status_code == 200, reissued.text

    stale = await client.post(
        f"/tickets/{ticket['code']}/validate", json={"event_id": event["id"]}, headers=staff.headers
    )

    assert stale.status_code == 404
    assert stale.json() == {
        "result": "invalid",
        "reason": "unknown",
        "check_in_id": stale.json()["check_in_id"],
    }
    assert await scan_log(db) == [(ticket["id"], "invalid", "unknown", ticket["code"])]
    async with db() as session:
        assert await session.scalar(select(CheckIn.event_id)) == event["id"]
    for path in (f"/tickets/{ticket['id']}", f"/tickets/{ticket['id']}/qr.png"):
        assert (await client.get(path, headers=staff.headers)).status_code == 404
    logged = await client.get("/check-ins", params={"ticket_id": ticket["id"]}, headers=admin.headers)
    assert [(c["id"], c["reason"]) for c in logged.json()["items"]] == [
        (stale.json()["check_in_id"], "unknown")
    ]
    stats = (await client.get(f"/events/{event['id']}/stats", headers=admin.headers)).json()["figures"]
    assert (stats["scans_refused"], stats["duplicate_admissions"]) == (1, 0)

    current = await client.post(f"/tickets/{reissued.json()['code']}/validate", headers=staff.headers)
    assert current.json()["result"] == "valid"  # the attempt admitted no one
    assert (await client.get(f"/tickets/{ticket['id']}", headers=staff.headers)).status_code == 200


async def test_a_tf1_code_a_reissue_replaced_is_unknown_but_logged_with_its_ticket(client, db, door) -> None:
    """A ticket issued before signed codes (`tf1.`) gets a signed code when reissued; its old code,
    which says no ticket, is kept as replaced, so its scans are logged with the ticket while the
    answer is that of a code never issued. A second reissue (of a signed code) keeps nothing."""
    staff, event, ticket = door
    admin = await make_actor(client, db, role="admin")
    old_code = new_ticket_code()
    async with db() as session:
        await session.execute(update(Ticket).where(Ticket.id == ticket["id"]).values(code=old_code))
        await session.commit()
    reissued = await client.post(f"/tickets/{ticket['id']}/reissue", headers=admin.headers)
    assert reissued.status_code == 200, reissued.text
    assert reissued.json()["code"].startswith("tf2.")

    stale = await client.post(
        f"/tickets/{old_code}/validate", json={"event_id": event["id"]}, headers=staff.headers
    )
    never = await client.post(f"/tickets/{new_ticket_code()}/validate", headers=staff.headers)

    for answer in (stale, never):
        assert answer.status_code == 404
        assert answer.json() == {
            "result": "invalid",
            "reason": "unknown",
            "check_in_id": answer.json()["check_in_id"],
        }
    assert [row[:3] for row in await scan_log(db)] == [
        (ticket["id"], "invalid", "unknown"),
        (None, "invalid", "unknown"),  # a code no ticket ever had names none
    ]
    async with db() as session:
        assert (
            await session.scalar(select(CheckIn.event_id).where(CheckIn.ticket_id == ticket["id"]))
            == event["id"]
        )
    assert (await client.get(f"/tickets/{ticket['id']}", headers=staff.headers)).status_code == 404

    again = await client.post(f"/tickets/{ticket['id']}/reissue", headers=admin.headers)
    assert again.status_code == 200, again.text
    async with db() as session:
        kept = (
            await session.execute(
                select(ReplacedCode.ticket_id, ReplacedCode.old_version, ReplacedCode.old_code)
            )
        ).all()
    assert [tuple(row) for row in kept] == [(ticket["id"], 1, old_code)]
    current = await client.post(f"/tickets/{again.json()['code']}/validate", headers=staff.headers)
    assert current.json()["result"] == "valid"  # the attempt admitted no one
    assert await row_of(db, ticket["id"]) == ("used", 3)


async def test_staff_who_scanned_a_ticket_do_not_read_the_code_a_reissue_gave_it(client, db, door) -> None:
    """Staff read a ticket through a scan of the code it holds: after a new code (a reissue here,
    a transfer likewise) their earlier scan opens nothing, so they never read a code they did not
    scan (here the scan was refused at another event's door, and the ticket stayed active)."""
    staff, _, ticket = door
    admin = await make_actor(client, db, role="admin")
    other = await make_event(client, admin)
    refused = await client.post(
        f"/tickets/{ticket['code']}/validate", json={"event_id": other["id"]}, headers=staff.headers
    )
    assert (refused.status_code, refused.json()["reason"]) == (422, "wrong_event")
    seen = await client.get(f"/tickets/{ticket['id']}", headers=staff.headers)
    assert seen.json()["code"] == ticket["code"]

    reissued = await client.post(f"/tickets/{ticket['id']}/reissue", headers=admin.headers)
    assert reissued.status_code == 200, reissued.text
    new_code = reissued.json()["code"]
    assert new_code != ticket["code"]

    for path in ("", "/qr.png", "/qr.svg"):
        answer = await client.get(f"/tickets/{ticket['id']}{path}", headers=staff.headers)
        assert answer.status_code == 404, path
    assert (await client.get(f"/tickets/{ticket['id']}", headers=admin.headers)).json()["code"] == new_code


@pytest.mark.parametrize("place", ["in at a gate of its type", "out", "out at a re-entry gate"])
async def test_a_leaked_key_code_moves_no_ticket_at_a_gate(client, db, door, settings, place) -> None:
    """The same at gates: in at a gate that admits the ticket's type, and out (with or without
    re-entry) once the issued code let it in: unknown, the ticket stays where it was."""
    staff, event, ticket = door
    admin = await make_actor(client, db, role="admin")
    body: dict[str, Any] = {"name": "North", "allow_reentry": place.endswith("re-entry gate")}
    if place.startswith("in"):
        body["ticket_type_ids"] = [ticket["ticket_type_id"]]
    gate = await client.post(f"/events/{event['id']}/gates", json=body, headers=admin.headers)
    assert gate.status_code == 201, gate.text
    listed = create_app(settings.with_overrides(ticket_signing_keys=f"{NEW_KEY},{OLD_KEY}"))
    leaked = TicketSigner(signing_key_entries(NEW_KEY)).sign(
        ticket["id"], event["id"], ticket["ticket_type_id"], 1
    )
    direction = "in" if place.startswith("in") else "out"

    async with AsyncTestClient(app=listed) as door_client:

        async def scan(code: str, way: str) -> Any:
            return await door_client.post(
                f"/tickets/{code}/validate",
                json={"gate_id": gate.json()["id"], "direction": way},
                headers=staff.headers,
            )

        if direction == "out":
            assert (await scan(ticket["code"], "in")).json()["result"] == "valid"
        before = await state_of(db, ticket["id"])
        forged = await scan(leaked, direction)
        after = await state_of(db, ticket["id"])
        issued = await scan(ticket["code"], direction)

    assert (forged.status_code, forged.json()["result"], forged.json()["reason"]) == (
        404,
        "invalid",
        "unknown",
    )
    assert after == before
    assert issued.json()["result"] == ("valid" if direction == "in" else "exited")
    assert (await scan_log(db))[-2][:3] == (ticket["id"], "invalid", "unknown")
