"""Fixtures of the back office tests: an admin, and the client logged in as that admin."""

from __future__ import annotations

import httpx
import pytest

from tests.support.api import Actor, make_actor
from tests.support.back_office import log_in


@pytest.fixture
async def admin(client, db) -> Actor:
    return await make_actor(client, db, role="admin", name="Grace Admin")


@pytest.fixture
async def back_office(client, admin: Actor) -> httpx.AsyncClient:
    """The test client, logged in to the back office as an admin."""
    response = await log_in(client, admin.email, admin.password)
    assert response.status_code == 302, response.text
    return client
