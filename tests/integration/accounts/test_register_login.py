from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.support.api import make_actor
from tests.support.factories import user_body
from ticketflow.db.models.users import User


async def count_users(db) -> int:
    async with db() as session:
        return int(await session.scalar(select(func.count()).select_from(User)))


async def test_register_then_login_then_me(client, db) -> None:
    body = user_body(email="Grace.Hopper@Example.COM")
    created = await client.post("/register", json=body)
    assert created.status_code == 201
    user = created.json()
    assert user["email"] == "grace.hopper@example.com"
    assert user["role"] == "attendee"
    assert "password" not in user
    assert "password_hash" not in user

    login = await client.post("/login", json={"email": body["email"], "password": body["password"]})
    assert login.status_code == 200
    token = login.json()
    assert token["token_type"] == "bearer"
    assert token["expires_in"] == 3600

    me = await client.get("/me", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert me.status_code == 200
    assert me.json()["id"] == user["id"]

    async with db() as session:
        stored = await session.scalar(select(User).where(User.id == user["id"]))
    assert stored.password_hash.startswith("$argon2id$")


async def test_swagger_form_login(client) -> None:
    body = user_body()
    await client.post("/register", json=body)
    response = await client.post("/login", data={"username": body["email"], "password": body["password"]})
    assert response.status_code == 200
    assert response.json()["access_token"]


async def test_email_taken_is_409_case_insensitive(client, db) -> None:
    body = user_body(email="taken@example.com")
    assert (await client.post("/register", json=body)).status_code == 201
    again = await client.post("/register", json=user_body(email="TAKEN@example.com"))
    assert again.status_code == 409
    assert await count_users(db) == 1


@pytest.mark.parametrize("role", ["admin", "staff"])
async def test_self_registration_cannot_escalate(client, db, role) -> None:
    response = await client.post("/register", json=user_body(role=role))
    assert response.status_code == 403
    assert await count_users(db) == 0


async def test_admin_token_may_register_staff(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    response = await client.post("/register", json=user_body(role="staff"), headers=admin.headers)
    assert response.status_code == 201
    assert response.json()["role"] == "staff"


async def test_attendee_token_cannot_register_admin(client, db) -> None:
    attendee = await make_actor(client, db)
    response = await client.post("/register", json=user_body(role="admin"), headers=attendee.headers)
    assert response.status_code == 403


async def test_wrong_password_and_unknown_email_same_answer(client, db) -> None:
    actor = await make_actor(client, db)
    wrong = await client.post("/login", json={"email": actor.email, "password": "not-the-password"})
    unknown = await client.post("/login", json={"email": "nobody@example.com", "password": "whatever1"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]


async def test_login_rate_limited_per_account(client, db) -> None:
    actor = await make_actor(client, db)
    statuses = [
        (await client.post("/login", json={"email": actor.email, "password": "wrong-password"})).status_code
        for _ in range(6)
    ]
    assert statuses[:5] == [401] * 5
    assert statuses[5] == 429
    blocked = await client.post("/login", json={"email": actor.email, "password": actor.password})
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) >= 1


async def test_users_endpoint_admin_only(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    attendee = await make_actor(client, db)
    assert (
        await client.post("/users", json=user_body(role="staff"), headers=attendee.headers)
    ).status_code == 403
    created = await client.post("/users", json=user_body(role="staff"), headers=admin.headers)
    assert created.status_code == 201
    assert created.json()["role"] == "staff"
    assert (await client.post("/users", json=user_body(role="staff"))).status_code == 401


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"password": "short"}, "password"),
        ({"email": "not-an-email"}, "email"),
        ({"role": "owner"}, "role"),
        ({"name": 7}, "name"),
        ({"name": None}, "name"),
    ],
)
async def test_creating_an_invalid_user_is_422_and_creates_nothing(client, db, change, key) -> None:
    """`POST /users` answers 409 or 422 (the contract): a body that is JSON but not a valid user
    is 422, naming the field; only malformed JSON is 400."""
    admin = await make_actor(client, db, role="admin")
    async with db() as session:
        before = await session.scalar(select(func.count()).select_from(User))
    body = user_body(role="staff") | change

    response = await client.post("/users", json=body, headers=admin.headers)

    assert response.status_code == 422, response.text
    assert [problem["key"] for problem in response.json()["extra"]] == [key]
    missing = {name: value for name, value in user_body(role="staff").items() if name != "email"}
    assert (await client.post("/users", json=missing, headers=admin.headers)).status_code == 422
    malformed = await client.post(
        "/users", content=b'{"name": ', headers={**admin.headers, "Content-Type": "application/json"}
    )
    assert malformed.status_code == 400
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(User)) == before


LONG_ONCE_LOWER_CASED = "a" * 180 + "@" + ".".join(["İ" * 20] * 2) + ".com"
"""Within 254 characters as sent, longer as stored: `"İ".lower()` is two characters."""


@pytest.mark.parametrize(
    ("email", "detail"),
    [
        *[
            (email, "cannot receive our e-mails")
            for email in ("josé@example.com", "a@b..com", "a(b)@example.com", "a,b@example.com")
        ],
        (LONG_ONCE_LOWER_CASED, "longer than 254 characters"),
    ],
)
async def test_an_address_no_e_mail_can_reach_is_refused_at_sign_up(client, db, email, detail) -> None:
    """The pattern takes these, the mailer cannot write them (a mailbox name with accents needs
    SMTPUTF8), or the column cannot hold them once lower-cased (MariaDB's strict mode would fail the
    insert): the account is refused (422) rather than made for a holder whose tickets would never
    arrive."""
    admin = await make_actor(client, db, role="admin")
    async with db() as session:
        before = await session.scalar(select(func.count()).select_from(User))
    registered = await client.post("/register", json=user_body() | {"email": email})
    created = await client.post(
        "/users", json=user_body(role="staff") | {"email": email}, headers=admin.headers
    )
    for response in (registered, created):
        assert response.status_code == 422, response.text
        assert response.json()["extra"]["field"] == "email"
        assert detail in response.json()["detail"]
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(User)) == before
