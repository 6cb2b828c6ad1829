"""Transfer of a ticket to another registered user: new holder, new signed code, the old one
`transferred` at the door, the chain kept, both holders told; refusals change nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select, update

from tests.support.api import Actor, at_once, buy, make_actor, make_event
from tests.support.databases import settings_for_tests, start_event_ago
from ticketflow.db.models.outbox import OutboxMessage
from ticketflow.db.models.tickets import Ticket, TicketTransfer
from ticketflow.lib.signed_codes import TicketSigner
from ticketflow.lib.ticket_codes import new_ticket_code
from ticketflow.settings import Settings

LIMIT = 2


@pytest.fixture
def settings(database_url: str) -> Settings:
    return settings_for_tests(database_url, max_transfers_per_ticket=LIMIT)


@pytest.fixture
async def people(client, db) -> dict[str, Any]:
    admin = await make_actor(client, db, role="admin")
    staff = await make_actor(client, db, role="staff")
    ada = await make_actor(client, db, name="Ada Lovelace")
    grace = await make_actor(client, db, name="Grace Hopper")
    event = await make_event(client, admin)
    ticket = (await buy(client, ada, event["id"])).json()["tickets"][0]
    return {"admin": admin, "staff": staff, "ada": ada, "grace": grace, "event": event, "ticket": ticket}


async def transfer(client, actor: Actor, ticket_id: int, body: Any) -> Any:
    return await client.post(f"/tickets/{ticket_id}/transfer", json=body, headers=actor.headers)


async def ticket_row(db: Any, ticket_id: int) -> tuple[Any, ...]:
    async with db() as session:
        row = (
            await session.execute(
                select(
                    Ticket.user_id, Ticket.code, Ticket.code_version, Ticket.attendee_name, Ticket.status
                ).where(Ticket.id == ticket_id)
            )
        ).one()
        return tuple(row)


async def chain(db: Any, ticket_id: int) -> list[tuple[Any, ...]]:
    async with db() as session:
        rows = await session.execute(
            select(
                TicketTransfer.from_user_id,
                TicketTransfer.to_user_id,
                TicketTransfer.by_user_id,
                TicketTransfer.old_version,
                TicketTransfer.old_code,
            )
            .where(TicketTransfer.ticket_id == ticket_id)
            .order_by(TicketTransfer.id)
        )
        return [tuple(row) for row in rows]


async def mails(db: Any) -> list[tuple[str, str]]:
    async with db() as session:
        rows = await session.execute(
            select(OutboxMessage.kind, OutboxMessage.recipient).order_by(OutboxMessage.id)
        )
        return [(row.kind, row.recipient) for row in rows if row.kind != "tickets"]


async def test_the_new_holder_enters_and_the_old_code_is_transferred(client, db, people, settings) -> None:
    ada, grace, staff, ticket = people["ada"], people["grace"], people["staff"], people["ticket"]

    response = await transfer(client, ada, ticket["id"], {"email": grace.email.upper()})

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["id"], body["user_id"], body["attendee_name"]) == (ticket["id"], grace.id, "Grace Hopper")
    assert body["code"] == ""  # the giver never sees the new code
    user_id, code, version, attendee, status = await ticket_row(db, ticket["id"])
    assert (user_id, version, attendee, status) == (grace.id, 2, "Grace Hopper", "active")
    claims = TicketSigner.from_settings(settings).verify(code)
    assert (claims.ticket_id, claims.version) == (ticket["id"], 2)
    assert await chain(db, ticket["id"]) == [(ada.id, grace.id, ada.id, 1, ticket["code"])]
    assert await mails(db) == [("ticket_transferred", ada.email), ("ticket_received", grace.email)]
    # the new holder sees it with its code, the giver no longer does
    mine = (await client.get(f"/tickets/{ticket['id']}", headers=grace.headers)).json()
    assert mine["code"] == code
    assert (await client.get(f"/tickets/{ticket['id']}", headers=ada.headers)).status_code == 404

    old = await client.post(f"/tickets/{ticket['code']}/validate", headers=staff.headers)
    # the code given away does not open the ticket (with its new code) to the account that scanned it
    assert (await client.get(f"/tickets/{ticket['id']}", headers=staff.headers)).status_code == 404
    new = await client.post(f"/tickets/{code}/validate", headers=staff.headers)

    assert old.status_code == 422
    assert (old.json()["result"], old.json()["reason"]) == ("invalid", "transferred")
    assert old.json()["ticket"]["code"] == ""  # nor does the answer show it
    assert new.status_code == 200
    assert new.json()["ticket"]["code"] == code
    assert (await client.get(f"/tickets/{ticket['id']}", headers=staff.headers)).json()["code"] == code
    assert new.json()["ticket"]["holder_name"] == "Grace Hopper"


async def test_a_tf1_ticket_transferred_gets_a_signed_code(client, db, people) -> None:
    ada, grace, staff, ticket = people["ada"], people["grace"], people["staff"], people["ticket"]
    old_code = new_ticket_code()
    async with db() as session:
        await session.execute(update(Ticket).where(Ticket.id == ticket["id"]).values(code=old_code))
        await session.commit()

    assert (await transfer(client, ada, ticket["id"], {"email": grace.email})).status_code == 200

    old = await client.post(f"/tickets/{old_code}/validate", headers=staff.headers)
    assert (old.status_code, old.json()["reason"]) == (422, "transferred")
    assert (await ticket_row(db, ticket["id"]))[1].startswith("tf2.")


async def test_an_admin_transfers_and_sees_the_code(client, db, people) -> None:
    admin, grace, ticket = people["admin"], people["grace"], people["ticket"]

    response = await transfer(client, admin, ticket["id"], {"email": grace.email})

    assert response.status_code == 200
    assert response.json()["code"] == (await ticket_row(db, ticket["id"]))[1]
    assert (await chain(db, ticket["id"]))[0][2] == admin.id


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"email": "nobody@example.org"}, 422),
        ({"email": "not-an-address"}, 400),
        ({"email": ""}, 400),
        ({"email": "x" * 300 + "@example.org"}, 400),
        ({"email": None}, 400),
        ({}, 400),
        ({"email": "a@example.org", "admin": True}, 400),
        ("grace", 400),
    ],
)
async def test_bad_input_changes_nothing(client, db, people, body, status) -> None:
    ada, ticket = people["ada"], people["ticket"]
    before = await ticket_row(db, ticket["id"])

    response = await transfer(client, ada, ticket["id"], body)

    assert response.status_code == status, response.text
    assert await ticket_row(db, ticket["id"]) == before
    assert await chain(db, ticket["id"]) == []
    assert await mails(db) == []


async def test_who_may_not_transfer(client, db, people) -> None:
    ada, grace, staff, ticket = people["ada"], people["grace"], people["staff"], people["ticket"]
    stranger = await make_actor(client, db)

    assert (await transfer(client, grace, ticket["id"], {"email": stranger.email})).status_code == 404
    assert (await transfer(client, staff, ticket["id"], {"email": grace.email})).status_code == 403
    assert (
        await client.post(f"/tickets/{ticket['id']}/transfer", json={"email": grace.email})
    ).status_code == 401
    assert (await transfer(client, ada, 999_999, {"email": grace.email})).status_code == 404
    same = await transfer(client, ada, ticket["id"], {"email": ada.email})
    assert (same.status_code, same.json()["extra"]["reason"]) == (422, "same_holder")
    assert await chain(db, ticket["id"]) == []


async def test_used_cancelled_and_started_tickets_are_refused(client, db, people) -> None:
    ada, grace, staff, event = people["ada"], people["grace"], people["staff"], people["event"]
    used, cancelled, started = (await buy(client, ada, event["id"], quantity=3)).json()["tickets"]
    await client.post(f"/tickets/{used['code']}/validate", headers=staff.headers)
    await client.post(f"/tickets/{cancelled['id']}/cancel", headers=ada.headers)

    answers = [await transfer(client, ada, t["id"], {"email": grace.email}) for t in (used, cancelled)]
    await start_event_ago(db, event["id"], dt.timedelta(hours=1))
    late = await transfer(client, ada, started["id"], {"email": grace.email})

    assert [a.status_code for a in [*answers, late]] == [409, 409, 409]
    assert "started" in late.json()["detail"]
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(TicketTransfer)) == 0
    # an admin may still hand a started event's ticket on (at the door desk)
    assert (await transfer(client, people["admin"], started["id"], {"email": grace.email})).status_code == 200


async def test_holders_are_limited_admins_are_not(client, db, people) -> None:
    ada, grace, admin, ticket = people["ada"], people["grace"], people["admin"], people["ticket"]
    holders = [ada, grace]
    for number in range(LIMIT):
        giver, receiver = holders[number % 2], holders[(number + 1) % 2]
        assert (await transfer(client, giver, ticket["id"], {"email": receiver.email})).status_code == 200
    holder = holders[LIMIT % 2]

    refused = await transfer(client, holder, ticket["id"], {"email": holders[(LIMIT + 1) % 2].email})
    by_admin = await transfer(client, admin, ticket["id"], {"email": holders[(LIMIT + 1) % 2].email})

    assert (refused.status_code, refused.json()["extra"]["max_transfers"]) == (409, LIMIT)
    assert by_admin.status_code == 200
    versions = [row[3] for row in await chain(db, ticket["id"])]
    assert versions == list(range(1, LIMIT + 2))


async def test_two_simultaneous_transfers_of_one_ticket_one_wins(client, db, people) -> None:
    ada, grace, ticket = people["ada"], people["grace"], people["ticket"]
    third = await make_actor(client, db, name="Third")

    answers = await at_once(
        client,
        lambda http: (transfer(http, ada, ticket["id"], {"email": who.email}) for who in (grace, third)),
    )

    # the loser finds the ticket transferred (409) or, reading after the winner's commit, no longer
    # the giver's (404)
    assert [a.status_code for a in answers].count(200) == 1
    assert {a.status_code for a in answers} - {200} <= {404, 409}
    winner = next(a.json()["user_id"] for a in answers if a.status_code == 200)
    user_id, _, version, *_ = await ticket_row(db, ticket["id"])
    assert (user_id, version) == (winner, 2)
    assert len(await chain(db, ticket["id"])) == 1


async def test_the_buyer_cannot_take_a_given_ticket_back_by_cancelling_the_order(client, db, people) -> None:
    ada, grace, ticket = people["ada"], people["grace"], people["ticket"]
    assert (await transfer(client, ada, ticket["id"], {"email": grace.email})).status_code == 200

    refused = await client.post(f"/orders/{ticket['order_id']}/cancel", headers=ada.headers)

    assert refused.status_code == 409
    assert (await ticket_row(db, ticket["id"]))[4] == "active"


async def test_the_scanner_bundle_revokes_the_code_given_away(client, db, people) -> None:
    ada, grace, admin, event, ticket = (
        people["ada"],
        people["grace"],
        people["admin"],
        people["event"],
        people["ticket"],
    )
    assert (await transfer(client, ada, ticket["id"], {"email": grace.email})).status_code == 200

    bundle = await client.get(f"/events/{event['id']}/scanner-bundle", headers=admin.headers)

    assert bundle.status_code == 200, bundle.text
    assert {"ticket_id": ticket["id"], "version": 1} in bundle.json()["revoked"]


async def test_guessing_recipients_is_limited_per_user(client, db, people) -> None:
    """A 422 tells whether an address is registered: ten unknown ones an hour, then 429, even for
    a registered address, and the ticket stays where it was."""
    ada, grace, ticket = people["ada"], people["grace"], people["ticket"]
    before = await ticket_row(db, ticket["id"])
    statuses = [
        (await transfer(client, ada, ticket["id"], {"email": f"nobody-{n}@example.org"})).status_code
        for n in range(11)
    ]
    assert statuses == [422] * 10 + [429]
    refused = await transfer(client, ada, ticket["id"], {"email": grace.email})
    assert refused.status_code == 429
    assert "Retry-After" in refused.headers
    assert await ticket_row(db, ticket["id"]) == before
    # another user's allowance is their own
    assert (await transfer(client, grace, ticket["id"], {"email": "x@example.org"})).status_code == 404


async def test_a_retried_purchase_does_not_give_back_a_code_given_away(client, db, people) -> None:
    """The purchase's `Idempotency-Key` replays the order: a ticket transferred since shows no
    code to the buyer, as the transfer's own answer does; the buyer's other ticket keeps its own."""
    ada, grace, event = people["ada"], people["grace"], people["event"]
    headers = {**ada.headers, "Idempotency-Key": "ada-pair"}
    bought = await client.post(f"/events/{event['id']}/tickets", json={"quantity": 2}, headers=headers)
    assert bought.status_code == 201
    given, kept = bought.json()["tickets"]
    assert (await transfer(client, ada, given["id"], {"email": grace.email})).status_code == 200

    replayed = await client.post(f"/events/{event['id']}/tickets", json={"quantity": 2}, headers=headers)

    assert replayed.status_code == 201
    assert replayed.headers["Idempotent-Replayed"] == "true"
    shown = {ticket["id"]: ticket["code"] for ticket in replayed.json()["tickets"]}
    assert shown == {given["id"]: "", kept["id"]: kept["code"]}
    assert (await ticket_row(db, given["id"]))[1] not in ("", given["code"])
