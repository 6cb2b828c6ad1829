"""A user's language: chosen at sign-up, changed with PATCH /me, shown on the user."""

from __future__ import annotations

from sqlalchemy import select

from tests.support.api import make_actor
from tests.support.factories import user_body
from ticketflow.db.models.users import User


async def stored(db, user_id: int) -> tuple[str, str]:
    async with db() as session:
        user = await session.get_one(User, user_id)
        return user.name, user.locale


async def test_locale_is_chosen_at_sign_up_and_changed_by_its_owner(client, db) -> None:
    english = await client.post("/register", json=user_body())
    assert english.json()["locale"] == "en"  # the default

    body = user_body()
    created = await client.post("/register", json={**body, "locale": "es"})
    assert created.status_code == 201, created.text
    assert created.json()["locale"] == "es"
    user_id = created.json()["id"]
    token = (await client.post("/login", json={"email": body["email"], "password": body["password"]})).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}

    changed = await client.patch("/me", json={"locale": "en", "name": "Ada L."}, headers=headers)
    assert changed.status_code == 200, changed.text
    assert (changed.json()["locale"], changed.json()["name"]) == ("en", "Ada L.")
    assert await stored(db, user_id) == ("Ada L.", "en")
    assert (await client.get("/me", headers=headers)).json()["locale"] == "en"


async def test_bad_locale_changes_nothing(client, db) -> None:
    refused = await client.post("/register", json={**user_body(), "locale": "fr"})
    assert refused.status_code == 400
    async with db() as session:
        assert (await session.scalars(select(User))).all() == []

    user = await make_actor(client, db)
    for body in ({"locale": "fr"}, {"locale": "ES"}, {"role": "admin"}, {"name": ""}):
        response = await client.patch("/me", json=body, headers=user.headers)
        assert response.status_code == 400, body
    assert await stored(db, user.id) == (user.name, "en")
    assert (await client.patch("/me", json={"locale": "es"})).status_code == 401


async def test_sign_up_without_a_locale_takes_the_request_language(client, db) -> None:
    """Pages follow `Accept-Language` before a user is known; the account keeps that language for
    its e-mails unless the body names one."""
    spanish = {"Accept-Language": "es-ES,es;q=0.9"}
    followed = await client.post("/register", json=user_body(), headers=spanish)
    chosen = await client.post("/register", json={**user_body(), "locale": "en"}, headers=spanish)
    unsupported = await client.post("/register", json=user_body(), headers={"Accept-Language": "fr-FR"})

    assert [response.status_code for response in (followed, chosen, unsupported)] == [201] * 3
    assert [r.json()["locale"] for r in (followed, chosen, unsupported)] == ["es", "en", "en"]
    for response in (followed, chosen, unsupported):
        assert (await stored(db, response.json()["id"]))[1] == response.json()["locale"]
