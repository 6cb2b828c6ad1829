"""Arrange helpers of the end-to-end payment tests: users made as the CLI makes them, logins."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
from sqlalchemy.ext.asyncio import async_sessionmaker

from tests.support.api import TEST_PASSWORDS
from tests.support.factories import user_body
from ticketflow.db.config import create_engine
from ticketflow.db.models.users import Role
from ticketflow.domain.accounts.service import AccountService
from ticketflow.settings import Settings


async def create_users(database_url: str, count: int) -> list[tuple[str, str, str]]:
    """(email, password, role): one admin, then attendees (made directly, as the CLI would)."""
    engine = create_engine(Settings(database_url=database_url), null_pool=True)
    made = []
    async with async_sessionmaker(engine)() as session:
        for index in range(count + 1):
            body = user_body()
            role = Role.ADMIN if index == 0 else Role.ATTENDEE
            await AccountService(session, TEST_PASSWORDS).create_user(
                name=body["name"], email=body["email"], password=body["password"], role=role
            )
            made.append((body["email"], body["password"], role.value))
    await engine.dispose()
    return made


async def login(http: httpx.AsyncClient, base: str, email: str, password: str) -> dict[str, str]:
    response = await http.post(f"{base}/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"
