"""Arrange helpers shared by the tickets tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.api import Actor, buy, make_actor, make_event


@dataclass
class Parties:
    """One ticket and everyone who may or may not touch it."""

    admin: Actor
    staff: Actor
    owner: Actor
    stranger: Actor
    event: dict[str, Any]
    ticket: dict[str, Any]


@pytest.fixture
async def parties(client, db) -> Parties:
    admin = await make_actor(client, db, role="admin")
    staff = await make_actor(client, db, role="staff")
    owner = await make_actor(client, db)
    stranger = await make_actor(client, db)
    event = await make_event(client, admin)
    ticket = (await buy(client, owner, event["id"])).json()["tickets"][0]
    return Parties(admin, staff, owner, stranger, event, ticket)
