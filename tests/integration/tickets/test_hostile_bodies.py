"""Hostile bodies on the ticket routes: a deeply nested array, JSON declared as text, a number
sent as a string. Each is a 4xx and changes nothing (the accounts and events routes have their
own battery in tests/integration/events/test_api_bad_input.py)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select, text

import ticketflow.db.models  # noqa: F401 - every table
from tests.support.api import buy, make_actor, make_event
from ticketflow.db.base import Base

NESTED = b"[" * 1000 + b"]" * 1000  # 2 KB


def hostile_bodies(field: str, good: str, wrong: str) -> list[tuple[str, bytes, str, int]]:
    """(label, body, content type, status) for a route whose body has `field`."""
    return [
        ("nested arrays", NESTED, "application/json", 400),
        ("nested in a field", f'{{"{field}": '.encode() + NESTED + b"}", "application/json", 400),
        ("JSON sent as text", f'{{"{field}": {good}}}'.encode(), "text/plain", 415),
        ("wrong type", f'{{"{field}": {wrong}}}'.encode(), "application/json", 400),
    ]


async def database_state(db) -> dict[str, Any]:
    async with db() as session:
        state: dict[str, Any] = {}
        for table in Base.metadata.sorted_tables:
            state[table.name] = await session.scalar(select(func.count()).select_from(table))
        rows = await session.execute(
            text("SELECT id, status, used_at, attendee_name FROM tickets ORDER BY id")
        )
        state["tickets rows"] = [tuple(row) for row in rows]
        rows = await session.execute(text("SELECT id, tickets_sold, tickets_held FROM events ORDER BY id"))
        state["events rows"] = [tuple(row) for row in rows]
    return state


@pytest.fixture
async def scene(client, db) -> dict[str, Any]:
    admin = await make_actor(client, db, role="admin")
    holder = await make_actor(client, db)
    event = await make_event(client, admin)
    ticket = (await buy(client, holder, event["id"])).json()["tickets"][0]
    return {"admin": admin, "holder": holder, "event": event, "ticket": ticket}


async def test_hostile_bodies_are_refused_and_change_nothing(client, db, scene) -> None:
    admin, holder, ticket, event_id = scene["admin"], scene["holder"], scene["ticket"], scene["event"]["id"]
    routes = [
        ("POST", f"/events/{event_id}/tickets", holder.headers, hostile_bodies("quantity", "1", '"1"')),
        (
            "POST",
            f"/tickets/{ticket['code']}/validate",
            admin.headers,
            hostile_bodies("event_id", str(event_id), f'"{event_id}"'),
        ),
        ("PATCH", f"/tickets/{ticket['id']}", holder.headers, hostile_bodies("attendee_name", '"Ada"', "7")),
    ]
    before = await database_state(db)
    for method, path, headers, cases in routes:
        for label, body, content_type, status in cases:
            response = await client.request(
                method, path, content=body, headers={**headers, "Content-Type": content_type}
            )
            assert response.status_code == status, (label, method, path, response.text)
            assert set(response.json()) == {"status_code", "detail", "extra"}
    assert await database_state(db) == before


async def test_a_purchase_without_a_body_still_buys_one(client, db, scene) -> None:
    response = await client.post(f"/events/{scene['event']['id']}/tickets", headers=scene["holder"].headers)
    assert response.status_code == 201
    assert response.json()["order"]["quantity"] == 1
