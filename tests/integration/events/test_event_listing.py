"""GET /events: ordering, pagination, `upcoming` and `q` filters, bad filters."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update

from tests.support.api import make_actor, make_event
from tests.support.factories import in_days
from ticketflow.db.models.events import Event


async def titles(client, query: str = "") -> list[str]:
    response = await client.get(f"/events{query}")
    assert response.status_code == 200, response.text
    return [e["title"] for e in response.json()["items"]]


async def test_pagination_is_ordered_by_start(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    for day in (5, 1, 4, 2, 3):
        await make_event(client, admin, title=f"day {day}", starts_at=in_days(day))

    first = (await client.get("/events?limit=2")).json()
    assert [e["title"] for e in first["items"]] == ["day 1", "day 2"]
    assert (first["total"], first["limit"], first["offset"]) == (5, 2, 0)
    second = (await client.get("/events?limit=2&offset=2")).json()
    assert [e["title"] for e in second["items"]] == ["day 3", "day 4"]
    last = (await client.get("/events?limit=2&offset=4")).json()
    assert [e["title"] for e in last["items"]] == ["day 5"]
    beyond = (await client.get("/events?offset=50")).json()
    assert (beyond["items"], beyond["total"]) == ([], 5)
    default = (await client.get("/events")).json()
    assert default["limit"] == 20
    assert len(default["items"]) == 5


async def test_upcoming_hides_started_and_cancelled_events(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    await make_event(client, admin, title="future", starts_at=in_days(3))
    started = await make_event(client, admin, title="started", starts_at=in_days(1))
    cancelled = await make_event(client, admin, title="cancelled", starts_at=in_days(2))
    async with db() as session:
        past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        await session.execute(update(Event).where(Event.id == started["id"]).values(starts_at=past))
        await session.execute(update(Event).where(Event.id == cancelled["id"]).values(status="cancelled"))
        await session.commit()

    assert await titles(client, "?upcoming=true") == ["future"]
    assert await titles(client, "?upcoming=false") == ["started"]
    assert sorted(await titles(client)) == ["cancelled", "future", "started"]
    assert (await client.get("/events?upcoming=true")).json()["total"] == 1


async def test_q_searches_title_venue_and_description_case_insensitively(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    await make_event(
        client, admin, title="Jazz Night", venue="Blue Hall", description="", starts_at=in_days(1)
    )
    await make_event(client, admin, title="Rock", venue="JAZZ club", description="", starts_at=in_days(2))
    await make_event(
        client, admin, title="Poetry", venue="Library", description="after jazz", starts_at=in_days(3)
    )
    await make_event(client, admin, title="Opera", venue="Opera House", description="", starts_at=in_days(4))

    assert await titles(client, "?q=jazz") == ["Jazz Night", "Rock", "Poetry"]
    assert await titles(client, "?q=JAZZ&limit=1&offset=1") == ["Rock"]
    assert (await client.get("/events?q=jazz&limit=1")).json()["total"] == 3
    assert await titles(client, "?q=opera") == ["Opera"]
    assert await titles(client, "?q=nothing-like-this") == []
    assert await titles(client, "?q=Jazz&upcoming=true") == ["Jazz Night", "Rock", "Poetry"]


async def test_q_treats_wildcards_and_quotes_literally(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    await make_event(client, admin, title="50% off", description="", starts_at=in_days(1))
    await make_event(client, admin, title="500 off", description="", starts_at=in_days(2))
    await make_event(client, admin, title="a_b", description="", starts_at=in_days(3))
    await make_event(client, admin, title="axb", description="", starts_at=in_days(4))
    await make_event(client, admin, title="back\\slash", description="", starts_at=in_days(5))
    await make_event(client, admin, title='O\'Brien "live"', description="", starts_at=in_days(6))

    assert await titles(client, "?q=50%25") == ["50% off"]
    assert await titles(client, "?q=%25") == ["50% off"]
    assert await titles(client, "?q=a_b") == ["a_b"]
    assert await titles(client, "?q=_") == ["a_b"]
    assert await titles(client, "?q=k%5Cs") == ["back\\slash"]
    assert await titles(client, "?q=%5C") == ["back\\slash"]
    assert await titles(client, "?q=O'Brien") == ['O\'Brien "live"']
    assert await titles(client, "?q=%27%20OR%201%3D1%20--") == []


async def test_bad_filters_are_400(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    await make_event(client, admin)
    for query in (
        "?limit=0",
        "?limit=101",
        "?limit=-1",
        "?limit=abc",
        "?limit=1e308",
        f"?limit={2**63}",
        "?offset=-1",
        "?offset=1.5",
        f"?offset={2**64}",
        "?upcoming=maybe",
        "?q=" + "x" * 201,
        "?q=" + "x" * 10_000,
    ):
        response = await client.get(f"/events{query}")
        assert response.status_code == 400, (query[:40], response.text)
        body = response.json()
        assert set(body) == {"status_code", "detail", "extra"}
        assert body["status_code"] == 400
