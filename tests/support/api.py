"""Arrange helpers that act through the public API, as a client would."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import async_sessionmaker

from tests.support.factories import event_body, user_body
from ticketflow.db.models.users import Role
from ticketflow.domain.accounts.service import AccountService
from ticketflow.lib.passwords import Passwords

TEST_PASSWORDS = Passwords(memory_kib=1024, time_cost=1, parallelism=1)


async def at_once(
    client: AsyncTestClient[Litestar],
    requests: Callable[[httpx.AsyncClient], Iterable[Awaitable[httpx.Response]]],
) -> list[httpx.Response]:
    """Send `requests(http)` at the same time, for real, and their answers in order.

    `AsyncTestClient` runs each request to its end before it returns (its transport blocks the
    test's event loop while the app runs in the client's own), so `asyncio.gather` over it sends
    one request after another. These run together in the app's event loop instead, through
    httpx's ASGI transport: they interleave wherever the app waits (for the database above all).
    `http` takes the same calls as `client` (`post`, `get`, ...), so the API helpers take it too.
    """

    async def together() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport, base_url=str(client.base_url)) as http:
            return list(await asyncio.gather(*requests(http)))

    return client.blocking_portal.call(together)


@dataclass
class Actor:
    id: int
    email: str
    password: str
    role: str
    token: str
    name: str
    headers: dict[str, str] = field(default_factory=dict)


async def make_actor(
    client: AsyncTestClient[Litestar],
    db: async_sessionmaker[Any],
    role: str = "attendee",
    **overrides: Any,
) -> Actor:
    """A user of `role` (created through the service, as the CLI does) and its bearer token."""
    body = user_body(**overrides)
    async with db() as session:
        user = await AccountService(session, TEST_PASSWORDS).create_user(
            name=body["name"], email=body["email"], password=body["password"], role=Role(role)
        )
    response = await client.post("/login", json={"email": body["email"], "password": body["password"]})
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    return Actor(
        id=user.id,
        email=user.email,
        password=body["password"],
        role=role,
        token=token,
        name=user.name,
        headers={"Authorization": f"Bearer {token}"},
    )


async def make_event(client: AsyncTestClient[Litestar], admin: Actor, **overrides: Any) -> dict[str, Any]:
    response = await client.post("/events", json=event_body(**overrides), headers=admin.headers)
    assert response.status_code == 201, response.text
    event: dict[str, Any] = response.json()
    return event


async def buy(
    client: AsyncTestClient[Litestar],
    buyer: Actor,
    event_id: int,
    quantity: int = 1,
    key: str | None = None,
) -> Any:
    headers = dict(buyer.headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    return await client.post(f"/events/{event_id}/tickets", json={"quantity": quantity}, headers=headers)


async def second_type(
    client: AsyncTestClient[Litestar], admin: Actor, event_id: int, **body: Any
) -> tuple[int, int]:
    """Adds a ticket type (`body`) to an event that has its first one: (first id, new id)."""
    url = f"/events/{event_id}/ticket-types"
    ((first_id),) = [t["id"] for t in (await client.get(url)).json()]
    created = await client.post(url, json=body, headers=admin.headers)
    assert created.status_code == 201, created.text
    return first_id, int(created.json()["id"])


async def buy_one_of_each(
    client: AsyncTestClient[Litestar], buyer: Actor, event_id: int, type_ids: tuple[int, ...]
) -> dict[str, Any]:
    """One order of one ticket of each type; the purchase's body (asserted 201)."""
    items = [{"ticket_type_id": type_id, "quantity": 1} for type_id in type_ids]
    response = await client.post(f"/events/{event_id}/tickets", json={"items": items}, headers=buyer.headers)
    assert response.status_code == 201, response.text
    purchase: dict[str, Any] = response.json()
    return purchase
