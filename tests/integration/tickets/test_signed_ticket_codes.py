"""Every ticket is issued with a signed `tf2.` code carrying its own id, event, type and version 1,
on every path that creates tickets: the free fast path, the full path (retry-safe, several types,
priced)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from tests.integration.payments.flow import buy_pending, pay_order, priced_event
from tests.support.api import buy, make_actor, make_event
from tests.support.databases import settings_for_tests
from ticketflow.db.models.tickets import CODE_MAX, Ticket
from ticketflow.lib.signed_codes import TicketClaims, TicketSigner, generate_signing_key
from ticketflow.settings import Settings

KEY = generate_signing_key(7)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return settings_for_tests(database_url, ticket_signing_keys=KEY)


async def stored(db: Any, event_id: int) -> list[Any]:
    async with db() as session:
        rows = await session.execute(
            select(Ticket.id, Ticket.event_id, Ticket.ticket_type_id, Ticket.code, Ticket.code_version)
            .where(Ticket.event_id == event_id)
            .order_by(Ticket.id)
        )
        return [tuple(row) for row in rows]


def assert_signed_for_themselves(rows: list[Any], settings: Settings) -> None:
    signer = TicketSigner.from_settings(settings)
    assert rows
    for ticket_id, event_id, type_id, code, version in rows:
        assert version == 1
        assert len(code) <= CODE_MAX
        assert signer.verify(code) == TicketClaims(ticket_id, event_id, type_id, 1, kid=7)


async def test_the_free_fast_path_signs_each_ticket(client, db, settings) -> None:
    admin = await make_actor(client, db, role="admin")
    buyer = await make_actor(client, db)
    event = await make_event(client, admin, capacity=20)

    response = await buy(client, buyer, event["id"], quantity=3)

    assert response.status_code == 201, response.text
    rows = await stored(db, event["id"])
    assert_signed_for_themselves(rows, settings)
    assert [(t["id"], t["code"]) for t in response.json()["tickets"]] == [(r[0], r[3]) for r in rows]


async def test_the_full_path_signs_each_ticket_of_every_type(client, db, settings) -> None:
    admin = await make_actor(client, db, role="admin")
    buyer = await make_actor(client, db)
    event = await make_event(client, admin, capacity=20)
    extra = await client.post(
        f"/events/{event['id']}/ticket-types",
        json={"name": "Balcony", "price_cents": 0},
        headers=admin.headers,
    )
    assert extra.status_code == 201, extra.text
    first_type = event["ticket_types"][0]["id"]
    items = [
        {"ticket_type_id": first_type, "quantity": 2},
        {"ticket_type_id": extra.json()["id"], "quantity": 1},
    ]

    response = await client.post(
        f"/events/{event['id']}/tickets",
        json={"items": items},
        headers={**buyer.headers, "Idempotency-Key": "order-1"},
    )
    replay = await client.post(
        f"/events/{event['id']}/tickets",
        json={"items": items},
        headers={**buyer.headers, "Idempotency-Key": "order-1"},
    )

    assert response.status_code == 201, response.text
    rows = await stored(db, event["id"])
    assert_signed_for_themselves(rows, settings)
    assert sorted(r[2] for r in rows) == sorted([first_type, first_type, extra.json()["id"]])
    assert [t["code"] for t in replay.json()["tickets"]] == [t["code"] for t in response.json()["tickets"]]


async def test_a_priced_order_signs_its_pending_tickets(client, db, settings) -> None:
    admin = await make_actor(client, db, role="admin")
    buyer = await make_actor(client, db)
    event = await priced_event(client, admin)

    purchase = await buy_pending(client, buyer, event["id"], quantity=2)

    rows = await stored(db, event["id"])
    assert_signed_for_themselves(rows, settings)
    # unpaid, the code is not shown (an offline door would admit it); paid, the same code is
    assert [t["code"] for t in purchase["tickets"]] == ["", ""]
    await pay_order(client, purchase)
    shown = [
        (await client.get(f"/tickets/{t['id']}", headers=buyer.headers)).json() for t in purchase["tickets"]
    ]
    assert [(t["status"], t["code"]) for t in shown] == [("active", row[3]) for row in rows]
    assert await stored(db, event["id"]) == rows


async def test_an_unpaid_ticket_shows_its_code_nowhere(client, db, settings) -> None:
    admin = await make_actor(client, db, role="admin")
    buyer = await make_actor(client, db)
    event = await priced_event(client, admin)
    purchase = await buy_pending(client, buyer, event["id"])
    (ticket,) = purchase["tickets"]
    (row,) = await stored(db, event["id"])

    for viewer in (buyer, admin):
        listed = await client.get("/tickets", headers=viewer.headers, params={"event_id": event["id"]})
        assert [t["code"] for t in listed.json()["items"]] == [""]
        one = await client.get(f"/tickets/{ticket['id']}", headers=viewer.headers)
        assert (one.json()["status"], one.json()["code"]) == ("pending", "")
        for document in ("qr.png", "qr.svg", "ticket.pdf", "wallet.pkpass"):
            answer = await client.get(f"/tickets/{ticket['id']}/{document}", headers=viewer.headers)
            assert answer.status_code == 409, (document, answer.text)
            assert answer.json()["detail"] == "this ticket is not paid yet: its code comes with the payment"
            assert row[3].encode() not in answer.content
    replay = await client.get(f"/orders/{purchase['order']['id']}", headers=buyer.headers)
    assert row[3] not in replay.text
    assert await stored(db, event["id"]) == [row]

    await pay_order(client, purchase)

    qr = await client.get(f"/tickets/{ticket['id']}/qr.svg", headers=buyer.headers)
    assert qr.status_code == 200
    assert (await client.get(f"/tickets/{ticket['id']}", headers=buyer.headers)).json()["code"] == row[3]
