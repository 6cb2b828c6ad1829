from __future__ import annotations

import datetime as dt
import io

import pytest
from PIL import Image
from sqlalchemy import select

from tests.support.api import buy, make_actor, make_event
from tests.support.databases import start_event_ago
from tests.support.documents import qr_texts
from ticketflow.db.models.orders import Order
from ticketflow.db.models.tickets import Ticket


async def test_history_newest_first_with_event_details(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    buyer = await make_actor(client, db)
    stranger = await make_actor(client, db)
    first = await make_event(client, admin, title="First show")
    second = await make_event(client, admin, title="Second show")
    await buy(client, buyer, first["id"], quantity=2)
    await buy(client, buyer, second["id"])
    await buy(client, stranger, second["id"])

    response = await client.get("/tickets", headers=buyer.headers)

    assert response.status_code == 200
    page = response.json()
    assert page["total"] == 3
    items = page["items"]
    assert [t["event_title"] for t in items] == ["Second show", "First show", "First show"]
    assert items[0]["event_venue"] == second["venue"]
    assert items[0]["event_starts_at"] is not None
    assert all(t["user_id"] == buyer.id for t in items)
    ids = [t["id"] for t in items]
    assert ids == sorted(ids, reverse=True)
    second_page = (await client.get("/tickets?limit=2&offset=2", headers=buyer.headers)).json()
    assert [t["id"] for t in second_page["items"]] == ids[2:]


async def test_admin_lists_an_events_tickets_attendee_only_own(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    alice = await make_actor(client, db)
    bob = await make_actor(client, db)
    event = await make_event(client, admin)
    await buy(client, alice, event["id"], quantity=2)
    await buy(client, bob, event["id"])
    as_admin = (await client.get(f"/tickets?event_id={event['id']}", headers=admin.headers)).json()
    assert as_admin["total"] == 3
    as_alice = (await client.get(f"/tickets?event_id={event['id']}", headers=alice.headers)).json()
    assert as_alice["total"] == 2
    assert {t["user_id"] for t in as_alice["items"]} == {alice.id}


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "offset=-1", "event_id=abc", "limit=1e9"])
async def test_history_bad_filters(client, db, query) -> None:
    buyer = await make_actor(client, db)
    response = await client.get(f"/tickets?{query}", headers=buyer.headers)
    assert response.status_code == 400


async def test_ticket_visibility(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    owner = await make_actor(client, db)
    other = await make_actor(client, db)
    staff = await make_actor(client, db, role="staff")
    event = await make_event(client, admin)
    ticket = (await buy(client, owner, event["id"])).json()["tickets"][0]
    url = f"/tickets/{ticket['id']}"
    assert (await client.get(url, headers=owner.headers)).json()["code"] == ticket["code"]
    assert (await client.get(url, headers=admin.headers)).status_code == 200
    assert (await client.get(url, headers=other.headers)).status_code == 404
    assert (await client.get(url, headers=staff.headers)).status_code == 404
    assert (await client.get(url)).status_code == 401
    assert (await client.get("/tickets/987654", headers=owner.headers)).status_code == 404
    # Staff may read a ticket once they scanned it.
    scan = await client.post(f"/tickets/{ticket['code']}/validate", headers=staff.headers)
    assert scan.status_code == 200
    assert (await client.get(url, headers=staff.headers)).status_code == 200


async def test_qr_png_decodes_to_the_code(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    owner = await make_actor(client, db)
    other = await make_actor(client, db)
    event = await make_event(client, admin)
    ticket = (await buy(client, owner, event["id"])).json()["tickets"][0]

    png = await client.get(f"/tickets/{ticket['id']}/qr.png", headers=owner.headers)

    assert png.status_code == 200
    assert png.headers["content-type"] == "image/png"
    assert png.headers["cache-control"].startswith("private")
    assert qr_texts(Image.open(io.BytesIO(png.content))) == [ticket["code"]]
    svg = await client.get(f"/tickets/{ticket['id']}/qr.svg", headers=admin.headers)
    assert svg.status_code == 200
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in svg.content
    assert (await client.get(f"/tickets/{ticket['id']}/qr.png", headers=other.headers)).status_code == 404
    assert (await client.get(f"/tickets/{ticket['id']}/qr.svg")).status_code == 401


async def test_cancel_releases_the_seat(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    owner = await make_actor(client, db)
    event = await make_event(client, admin, capacity=2)
    tickets = (await buy(client, owner, event["id"], quantity=2)).json()["tickets"]
    assert (await buy(client, owner, event["id"])).status_code == 409

    response = await client.post(f"/tickets/{tickets[0]['id']}/cancel", headers=owner.headers)

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert (await client.get(f"/events/{event['id']}")).json()["tickets_available"] == 1
    again = await client.post(f"/tickets/{tickets[0]['id']}/cancel", headers=owner.headers)
    assert again.status_code == 409
    assert (await buy(client, owner, event["id"])).status_code == 201
    async with db() as session:
        order = await session.scalar(select(Order).where(Order.id == tickets[0]["order_id"]))
        assert order.status == "paid"  # one of its two tickets is still valid
    await client.post(f"/tickets/{tickets[1]['id']}/cancel", headers=owner.headers)
    async with db() as session:
        order = await session.scalar(select(Order).where(Order.id == tickets[0]["order_id"]))
        assert order.status == "cancelled"


async def test_cancel_rules(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    owner = await make_actor(client, db)
    other = await make_actor(client, db)
    staff = await make_actor(client, db, role="staff")
    event = await make_event(client, admin)
    used, started, mine = (await buy(client, owner, event["id"], quantity=3)).json()["tickets"]
    assert (await client.post(f"/tickets/{used['code']}/validate", headers=staff.headers)).status_code == 200

    assert (await client.post(f"/tickets/{used['id']}/cancel", headers=owner.headers)).status_code == 409
    assert (await client.post(f"/tickets/{mine['id']}/cancel", headers=other.headers)).status_code == 404
    assert (await client.post(f"/tickets/{mine['id']}/cancel", headers=staff.headers)).status_code == 403
    assert (await client.post("/tickets/424242/cancel", headers=owner.headers)).status_code == 404
    await start_event_ago(db, event["id"], dt.timedelta(minutes=1))
    late = await client.post(f"/tickets/{started['id']}/cancel", headers=owner.headers)
    assert late.status_code == 409
    async with db() as session:
        statuses = dict((await session.execute(select(Ticket.id, Ticket.status))).all())
    assert statuses == {used["id"]: "used", started["id"]: "active", mine["id"]: "active"}
    # An admin may still cancel after the start (e.g. a refund at the organiser's discretion).
    assert (await client.post(f"/tickets/{mine['id']}/cancel", headers=admin.headers)).status_code == 200


async def test_delete_event_with_tickets_cancels_everything(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    owner = await make_actor(client, db)
    staff = await make_actor(client, db, role="staff")
    event = await make_event(client, admin)
    tickets = (await buy(client, owner, event["id"], quantity=3)).json()["tickets"]
    await client.post(f"/tickets/{tickets[0]['code']}/validate", headers=staff.headers)

    response = await client.delete(f"/events/{event['id']}", headers=admin.headers)

    assert response.status_code == 204
    after = (await client.get(f"/events/{event['id']}")).json()
    assert after["status"] == "cancelled"
    async with db() as session:
        statuses = sorted((await session.scalars(select(Ticket.status))).all())
        order = await session.scalar(select(Order))
    assert statuses == ["cancelled", "cancelled", "used"]
    assert order.status == "cancelled"
    assert after["tickets_sold"] == 1
    assert after["tickets_held"] == 0
    assert (await buy(client, owner, event["id"])).status_code == 409
