"""A new code for one ticket (`POST /tickets/{id}/reissue`): the new code admits, the old one is
`invalid` at the door and revoked in the scanner bundle, the holder is e-mailed; tickets that are
not active, other people's tickets and door staff are refused with nothing changed."""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy import select

from tests.integration.tickets.conftest import Parties
from tests.support.api import Actor, buy, make_event
from ticketflow.db.models.outbox import OutboxMessage
from ticketflow.db.models.tickets import Ticket
from ticketflow.domain.tickets.reissue import REISSUE_WINDOW_SECONDS, REISSUES_PER_TICKET
from ticketflow.lib.signed_codes import TicketSigner
from ticketflow.settings import Settings


async def reissue(client, actor: Actor | None, ticket_id: int) -> Any:
    headers = actor.headers if actor is not None else {}
    return await client.post(f"/tickets/{ticket_id}/reissue", headers=headers)


async def code_of(db: Any, ticket_id: int) -> tuple[str, int]:
    async with db() as session:
        row = (
            await session.execute(select(Ticket.code, Ticket.code_version).where(Ticket.id == ticket_id))
        ).one()
        return row.code, row.code_version


async def reissue_letters(db: Any) -> list[tuple[str, int | None, list[int]]]:
    """(recipient, ticket id, reissued ticket ids) of every queued new-code e-mail."""
    async with db() as session:
        rows = await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        found = []
        for row in rows:
            payload = msgspec.json.decode(row.payload or "{}")
            if "reissued" in payload:
                assert row.kind == "tickets"
                found.append((row.recipient, row.ticket_id, payload["reissued"]))
        return found


async def test_the_new_code_admits_and_the_old_one_is_invalid(
    client, db, parties: Parties, settings: Settings
) -> None:
    owner, staff, ticket = parties.owner, parties.staff, parties.ticket

    response = await reissue(client, owner, ticket["id"])

    assert response.status_code == 200, response.text
    body = response.json()
    new_code, version = await code_of(db, ticket["id"])
    assert (body["id"], body["user_id"], body["status"], body["code"]) == (
        ticket["id"],
        owner.id,
        "active",
        new_code,
    )
    assert new_code != ticket["code"]
    assert version == 2
    claims = TicketSigner.from_settings(settings).verify(new_code)
    assert (claims.ticket_id, claims.event_id, claims.version) == (ticket["id"], ticket["event_id"], 2)
    assert await reissue_letters(db) == [(owner.email, ticket["id"], [ticket["id"]])]
    shown = await client.get(f"/tickets/{ticket['id']}", headers=owner.headers)
    assert shown.json()["code"] == new_code

    old = await client.post(f"/tickets/{ticket['code']}/validate", headers=staff.headers)
    new = await client.post(f"/tickets/{new_code}/validate", headers=staff.headers)

    assert old.status_code == 404
    assert (old.json()["result"], old.json()["reason"]) == ("invalid", "unknown")
    assert new.status_code == 200
    assert new.json()["result"] == "valid"


async def test_the_scanner_bundle_revokes_the_old_version(client, db, parties: Parties) -> None:
    admin, owner, ticket = parties.admin, parties.owner, parties.ticket
    url = f"/events/{parties.event['id']}/scanner-bundle"
    before = (await client.get(url, headers=admin.headers)).json()
    assert before["revoked"] == []

    assert (await reissue(client, owner, ticket["id"])).status_code == 200
    assert (await reissue(client, owner, ticket["id"])).status_code == 200

    full = (await client.get(url, headers=admin.headers)).json()
    since = (await client.get(url, params={"since": before["cursor"]}, headers=admin.headers)).json()
    assert full["revoked"] == [{"ticket_id": ticket["id"], "version": 2}]  # versions 1 and 2
    assert since["revoked"] == [{"ticket_id": ticket["id"], "version": 2}]
    assert (await code_of(db, ticket["id"]))[1] == 3


async def test_only_an_active_ticket_gets_a_new_code(client, db, parties: Parties) -> None:
    admin, owner, staff = parties.admin, parties.owner, parties.staff
    used, cancelled = (await buy(client, owner, parties.event["id"], quantity=2)).json()["tickets"]
    assert (await client.post(f"/tickets/{used['code']}/validate", headers=staff.headers)).status_code == 200
    assert (await client.post(f"/tickets/{cancelled['id']}/cancel", headers=owner.headers)).status_code == 200
    priced = await make_event(client, admin, price_cents=1500)
    (unpaid,) = (await buy(client, owner, priced["id"])).json()["tickets"]
    assert unpaid["status"] == "pending"
    codes = [await code_of(db, t["id"]) for t in (used, cancelled, unpaid)]

    answers = [
        await reissue(client, actor, t["id"]) for t in (used, cancelled, unpaid) for actor in (owner, admin)
    ]

    assert [a.status_code for a in answers] == [409] * 6
    assert "this one is used" in answers[0].json()["detail"]
    assert [await code_of(db, t["id"]) for t in (used, cancelled, unpaid)] == codes
    assert [code for code, _ in codes[:2]] == [used["code"], cancelled["code"]]
    assert await reissue_letters(db) == []


async def test_who_may_not_ask_for_a_new_code(client, db, parties: Parties) -> None:
    ticket = parties.ticket

    assert (await reissue(client, parties.stranger, ticket["id"])).status_code == 404
    assert (await reissue(client, parties.staff, ticket["id"])).status_code == 403
    assert (await reissue(client, None, ticket["id"])).status_code == 401
    assert (await reissue(client, parties.owner, 999_999)).status_code == 404
    assert await code_of(db, ticket["id"]) == (ticket["code"], 1)
    assert await reissue_letters(db) == []


async def test_holders_are_limited_per_ticket_admins_are_not(client, db, parties: Parties) -> None:
    owner, admin, ticket = parties.owner, parties.admin, parties.ticket
    for _ in range(REISSUES_PER_TICKET):
        assert (await reissue(client, owner, ticket["id"])).status_code == 200

    refused = await reissue(client, owner, ticket["id"])

    assert refused.status_code == 429
    assert REISSUE_WINDOW_SECONDS - 60 <= int(refused.headers["Retry-After"]) <= REISSUE_WINDOW_SECONDS
    assert (await code_of(db, ticket["id"]))[1] == 1 + REISSUES_PER_TICKET
    by_admin = await reissue(client, admin, ticket["id"])
    assert by_admin.status_code == 200
    assert by_admin.json()["code"] == (await code_of(db, ticket["id"]))[0]
    assert len(await reissue_letters(db)) == REISSUES_PER_TICKET + 1
