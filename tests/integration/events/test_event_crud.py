"""Event CRUD per the spec: validation, admin-only writes, full and partial updates, capacity,
delete that removes an unsold event and cancels a sold one."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from tests.support.api import buy, make_actor, make_event
from tests.support.factories import event_body, in_days
from ticketflow.db.models.events import Event
from ticketflow.db.models.tickets import Ticket


async def stored_event(db, event_id: int) -> Event | None:
    async with db() as session:
        return await session.get(Event, event_id)


async def count_events(db) -> int:
    async with db() as session:
        return int(await session.scalar(select(func.count()).select_from(Event)))


async def ticket_statuses(db, event_id: int) -> list[str]:
    async with db() as session:
        rows = await session.scalars(
            select(Ticket.status).where(Ticket.event_id == event_id).order_by(Ticket.id)
        )
        return list(rows)


async def test_admin_publishes_an_event(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    starts = dt.datetime(2031, 6, 1, 20, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    body = event_body(
        title="Jazz Night",
        venue="Blue Hall, Lyon",
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=3),
        capacity=150,
        price_cents=2500,
        currency="CHF",
        timezone="Europe/Zurich",
    )
    response = await client.post("/events", json=body, headers=admin.headers)

    assert response.status_code == 201, response.text
    event = response.json()
    assert event["title"] == "Jazz Night"
    assert event["starts_at"] == "2031-06-01T18:00:00Z"
    assert event["ends_at"] == "2031-06-01T21:00:00Z"
    assert (event["date"], event["time"]) == ("2031-06-01", "20:00")
    assert event["capacity"] == event["tickets_available"] == 150
    assert event["tickets_sold"] == 0
    assert (event["price_cents"], event["currency"]) == (2500, "CHF")
    assert event["max_per_order"] == 10
    assert event["status"] == "scheduled"
    assert event["admin_id"] == admin.id
    stored = await stored_event(db, event["id"])
    assert stored is not None
    assert stored.starts_at == starts
    assert stored.capacity == 150

    fetched = await client.get(f"/events/{event['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == event


async def test_defaults_of_a_minimal_event(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    minimal = {"title": "T", "venue": "V", "starts_at": in_days(2).isoformat(), "capacity": 1}
    event = (await client.post("/events", json=minimal, headers=admin.headers)).json()
    assert (event["currency"], event["price_cents"], event["max_per_order"]) == ("EUR", 0, 10)
    assert (event["description"], event["ends_at"], event["timezone"]) == ("", None, "UTC")


def invalid_bodies() -> list[tuple[str, dict[str, object], int]]:
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    start = in_days(10)
    return [
        ("empty title", event_body(title=""), 400),
        ("blank title", event_body(title="   "), 400),
        ("title with a line break", event_body(title="a\nb"), 400),
        ("title too long", event_body(title="x" * 201), 400),
        ("empty venue", event_body(venue=""), 400),
        ("description too long", event_body(description="d" * 5001), 400),
        ("capacity 0", event_body(capacity=0), 400),
        ("capacity negative", event_body(capacity=-5), 400),
        ("capacity huge", event_body(capacity=10**7), 400),
        ("capacity not an integer", event_body(capacity=1.5), 400),
        ("capacity a string", event_body(capacity="100"), 400),
        ("starts_at in the past", event_body(starts_at=past), 422),
        ("starts_at without offset", event_body(starts_at="2031-06-01T20:00:00"), 400),
        ("starts_at a date only", event_body(starts_at="2031-06-01"), 400),
        ("starts_at nonsense", event_body(starts_at="next friday"), 400),
        ("starts_at beyond the supported range", event_body(starts_at="9999-12-31T23:00:00-05:00"), 422),
        ("ends_at before starts_at", event_body(starts_at=start, ends_at=start - dt.timedelta(hours=1)), 422),
        ("ends_at equal to starts_at", event_body(starts_at=start, ends_at=start), 422),
        ("ends_at without offset", event_body(ends_at="2031-06-01T23:00:00"), 400),
        ("unknown time zone", event_body(timezone="Mars/Olympus_Mons"), 422),
        ("time zone path", event_body(timezone="../../../etc/passwd"), 422),
        ("empty time zone", event_body(timezone=""), 400),
        ("currency lower case", event_body(currency="eur"), 400),
        ("currency too long", event_body(currency="EURO"), 400),
        ("currency digits", event_body(currency="123"), 400),
        ("price negative", event_body(price_cents=-1), 400),
        ("price huge", event_body(price_cents=2**63), 400),
        ("max_per_order 0", event_body(max_per_order=0), 400),
        ("max_per_order 101", event_body(max_per_order=101), 400),
        (
            "sales end after start",
            event_body(starts_at=start, sales_end_at=start + dt.timedelta(hours=1)),
            422,
        ),
        ("unknown field", event_body(organiser="me"), 400),
        ("tickets_sold is not writable", event_body(tickets_sold=5), 400),
    ]


async def test_invalid_events_are_refused(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    wrong = []
    for case, body, status in invalid_bodies():
        response = await client.post("/events", json=body, headers=admin.headers)
        if response.status_code != status or set(response.json()) != {"status_code", "detail", "extra"}:
            wrong.append((case, response.status_code, response.text[:200]))
    assert wrong == []
    assert await count_events(db) == 0


@pytest.mark.parametrize(("role", "status"), [(None, 401), ("attendee", 403), ("staff", 403)])
async def test_only_admins_write_events(client, db, role, status) -> None:
    admin = await make_actor(client, db, role="admin")
    event = await make_event(client, admin, title="Original")
    headers = (await make_actor(client, db, role=role)).headers if role else {}
    attempts = [
        await client.post("/events", json=event_body(), headers=headers),
        await client.put(f"/events/{event['id']}", json=event_body(title="Hijacked"), headers=headers),
        await client.patch(f"/events/{event['id']}", json={"title": "Hijacked"}, headers=headers),
        await client.delete(f"/events/{event['id']}", headers=headers),
    ]
    assert [r.status_code for r in attempts] == [status] * 4
    assert await count_events(db) == 1
    stored = await stored_event(db, event["id"])
    assert stored is not None
    assert (stored.title, stored.status) == ("Original", "scheduled")


async def test_put_replaces_every_field(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    event = await make_event(client, admin, description="old text", max_per_order=4, price_cents=900)
    starts = in_days(40)
    replacement = {
        "title": "Renamed",
        "venue": "New Hall",
        "starts_at": starts.isoformat(),
        "capacity": 7,
    }
    response = await client.put(f"/events/{event['id']}", json=replacement, headers=admin.headers)
    assert response.status_code == 200, response.text
    updated = response.json()
    assert (updated["title"], updated["venue"], updated["capacity"]) == ("Renamed", "New Hall", 7)
    assert (updated["description"], updated["max_per_order"], updated["price_cents"]) == ("", 10, 0)
    assert updated["created_at"] == event["created_at"]
    assert updated["updated_at"] >= event["updated_at"]
    stored = await stored_event(db, event["id"])
    assert stored is not None
    assert (stored.title, stored.capacity, stored.starts_at) == ("Renamed", 7, starts)


async def test_put_needs_a_complete_body(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    event = await make_event(client, admin, title="Kept")
    response = await client.put(f"/events/{event['id']}", json={"title": "Only"}, headers=admin.headers)
    assert response.status_code == 400
    assert (await stored_event(db, event["id"])).title == "Kept"  # type: ignore[union-attr]


async def test_patch_changes_only_the_fields_sent(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    event = await make_event(client, admin, description="keep me", capacity=50)
    response = await client.patch(
        f"/events/{event['id']}", json={"title": "New title", "capacity": 60}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert (updated["title"], updated["capacity"], updated["tickets_available"]) == ("New title", 60, 60)
    assert (updated["description"], updated["venue"]) == ("keep me", event["venue"])
    nothing = await client.patch(f"/events/{event['id']}", json={}, headers=admin.headers)
    assert nothing.status_code == 200
    assert nothing.json()["title"] == "New title"


async def test_patch_checks_rules_across_fields(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    starts = in_days(10)
    event = await make_event(client, admin, starts_at=starts)
    before = await stored_event(db, event["id"])
    early_end = (starts - dt.timedelta(hours=1)).isoformat()
    for body, status in [
        ({"ends_at": early_end}, 422),
        ({"starts_at": (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).isoformat()}, 422),
        ({"capacity": 0}, 400),
        ({"title": None}, 400),
        ({"timezone": "Nowhere/Town"}, 422),
    ]:
        response = await client.patch(f"/events/{event['id']}", json=body, headers=admin.headers)
        assert response.status_code == status, (body, response.text)
    after = await stored_event(db, event["id"])
    assert after is not None
    assert before is not None
    assert (after.ends_at, after.starts_at, after.capacity, after.timezone) == (
        before.ends_at,
        before.starts_at,
        before.capacity,
        before.timezone,
    )
    cleared = await client.patch(f"/events/{event['id']}", json={"ends_at": None}, headers=admin.headers)
    assert cleared.status_code == 200
    assert cleared.json()["ends_at"] is None


async def test_writes_to_an_unknown_event_are_404(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    for response in (
        await client.get("/events/424242"),
        await client.put("/events/424242", json=event_body(), headers=admin.headers),
        await client.patch("/events/424242", json={"title": "x"}, headers=admin.headers),
        await client.delete("/events/424242", headers=admin.headers),
    ):
        assert response.status_code == 404
        assert response.json() == {"status_code": 404, "detail": "event not found", "extra": {}}
    assert await count_events(db) == 0


async def test_capacity_cannot_go_below_tickets_sold_or_held(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    buyer = await make_actor(client, db)
    free = await make_event(client, admin, capacity=10)
    priced = await make_event(client, admin, capacity=10, price_cents=1500)
    assert (await buy(client, buyer, free["id"], quantity=4)).status_code == 201
    held = await buy(client, buyer, priced["id"], quantity=3)
    assert held.status_code == 201, held.text
    assert {t["status"] for t in held.json()["tickets"]} == {"pending"}

    for event, taken in ((free, 4), (priced, 3)):
        too_low = await client.patch(
            f"/events/{event['id']}", json={"capacity": taken - 1}, headers=admin.headers
        )
        assert too_low.status_code == 409, too_low.text
        assert too_low.json()["detail"] == "capacity cannot go below the tickets already sold or held"
        put_body = event_body(title=event["title"], starts_at=event["starts_at"], capacity=taken - 1)
        put_body["timezone"] = event["timezone"]
        put_body["price_cents"] = event["price_cents"]
        replaced = await client.put(f"/events/{event['id']}", json=put_body, headers=admin.headers)
        assert replaced.status_code == 409, replaced.text
        stored = await stored_event(db, event["id"])
        assert stored is not None
        assert stored.capacity == 10
        exact = await client.patch(f"/events/{event['id']}", json={"capacity": taken}, headers=admin.headers)
        assert exact.status_code == 200, exact.text
        assert exact.json()["tickets_available"] == 0
    # a price is fixed once tickets were ordered
    repriced = await client.patch(f"/events/{priced['id']}", json={"price_cents": 1}, headers=admin.headers)
    assert repriced.status_code == 409


async def test_delete_without_orders_removes_the_row(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    event = await make_event(client, admin)
    response = await client.delete(f"/events/{event['id']}", headers=admin.headers)
    assert response.status_code == 204
    assert response.content == b""
    assert await stored_event(db, event["id"]) is None
    assert (await client.get(f"/events/{event['id']}")).status_code == 404
    assert (await client.delete(f"/events/{event['id']}", headers=admin.headers)).status_code == 404


async def test_delete_with_tickets_cancels_and_keeps_everything(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    buyers = [await make_actor(client, db) for _ in range(2)]
    event = await make_event(client, admin, capacity=20)
    for buyer in buyers:
        assert (await buy(client, buyer, event["id"], quantity=2)).status_code == 201

    response = await client.delete(f"/events/{event['id']}", headers=admin.headers)

    assert response.status_code == 204
    stored = await stored_event(db, event["id"])
    assert stored is not None
    assert stored.status == "cancelled"
    assert await ticket_statuses(db, event["id"]) == ["cancelled"] * 4
    shown = (await client.get(f"/events/{event['id']}")).json()
    assert shown["status"] == "cancelled"
    own = (await client.get("/tickets", headers=buyers[0].headers)).json()
    assert [t["status"] for t in own["items"]] == ["cancelled", "cancelled"]
    # a cancelled event accepts no change and sells nothing more
    assert (
        await client.patch(f"/events/{event['id']}", json={"title": "x"}, headers=admin.headers)
    ).status_code == 409
    assert (await buy(client, buyers[0], event["id"])).status_code in (409, 422)
    again = await client.delete(f"/events/{event['id']}", headers=admin.headers)
    assert again.status_code == 204
    assert await ticket_statuses(db, event["id"]) == ["cancelled"] * 4
