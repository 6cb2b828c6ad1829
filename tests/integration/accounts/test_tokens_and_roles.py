"""Bearer tokens and roles: every forged, stale or orphaned token is 401; roles come from the database."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json

import jwt
import pytest
from litestar.security.jwt import Token
from sqlalchemy import delete, func, select, update

from tests.support.api import make_actor, make_event
from tests.support.factories import event_body, user_body
from ticketflow.db.models.users import User

ADMIN_ONLY_READ = "/users"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


NONE_HEADER = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())


def flip(text: str) -> str:
    """`text` with its middle character changed."""
    middle = len(text) // 2
    return text[:middle] + ("A" if text[middle] != "A" else "B") + text[middle + 1 :]


def encode(secret: str, sub: object, exp: dt.datetime | None = None, algorithm: str = "HS256") -> str:
    now = dt.datetime.now(dt.UTC)
    claims = {"sub": str(sub), "iat": now, "exp": exp or now + dt.timedelta(hours=1)}
    return jwt.encode(claims, secret, algorithm=algorithm)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def count_users(db) -> int:
    async with db() as session:
        return int(await session.scalar(select(func.count()).select_from(User)))


def forged_tokens(secret: str, user_id: int, valid: str) -> dict[str, str]:
    header, payload, signature = valid.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    other = dict(claims, sub=str(user_id + 1))
    no_exp = {k: v for k, v in claims.items() if k != "exp"}
    return {
        "expired": encode(secret, sub=user_id, exp=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)),
        "tampered payload": f"{header}.{b64(json.dumps(other).encode())}.{signature}",
        "tampered signature": f"{header}.{payload}.{flip(signature)}",
        "alg none": f"{NONE_HEADER}.{payload}.",
        "alg none signed": f"{NONE_HEADER}.{payload}.{signature}",
        "HS512": encode(secret, sub=user_id, algorithm="HS512"),
        "wrong secret": encode("another-secret-" + "q" * 40, sub=user_id),
        "no exp": jwt.encode(no_exp, secret, algorithm="HS256"),
        "sub not a number": encode(secret, sub="admin"),
        "sub out of range": encode(secret, sub=2**70),
        "sub negative": encode(secret, sub=-1),
        "garbage": "not.a.token",
        "empty segments": "..",
        "10 000 characters": "a" * 10_000,
    }


async def test_forged_and_stale_tokens_are_401(client, db, settings) -> None:
    admin = await make_actor(client, db, role="admin")
    assert (await client.get("/me", headers=admin.headers)).status_code == 200
    users_before = await count_users(db)
    for name, token in forged_tokens(settings.jwt_secret, admin.id, admin.token).items():
        for method, path, body in (
            ("GET", "/me", None),
            ("GET", ADMIN_ONLY_READ, None),
            ("POST", "/events", event_body()),
            ("POST", "/users", user_body(role="admin")),
        ):
            response = await client.request(method, path, json=body, headers=bearer(token))
            assert response.status_code == 401, (name, path, response.text)
            assert response.json()["status_code"] == 401
    # /register with a bad token: refused, not silently treated as anonymous
    escalation = await client.post(
        "/register",
        json=user_body(role="admin"),
        headers=bearer(forged_tokens(settings.jwt_secret, admin.id, admin.token)["wrong secret"]),
    )
    assert escalation.status_code == 401
    assert await count_users(db) == users_before
    assert (await client.get("/events")).json()["total"] == 0


@pytest.mark.parametrize(
    "header", ["Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "bearer", "Token abc", "Bearer a b c"]
)
async def test_malformed_authorization_headers_are_401(client, db, header) -> None:
    for path in ("/me", "/users"):
        response = await client.get(path, headers={"Authorization": header})
        assert response.status_code == 401, (header, path, response.text)
        assert set(response.json()) == {"status_code", "detail", "extra"}


async def test_token_of_a_deleted_user_is_401(client, db, database_url) -> None:
    """Also once the id is another account's: SQLite gives a deleted last row's id to the next row,
    and the deleted user's token must not act as the newcomer."""
    admin = await make_actor(client, db, role="admin")
    async with db() as session:
        await session.execute(delete(User).where(User.id == admin.id))
        await session.commit()
    assert (await client.get("/me", headers=admin.headers)).status_code == 401
    assert (await client.post("/events", json=event_body(), headers=admin.headers)).status_code == 401

    await asyncio.sleep(
        1.05 - dt.datetime.now(dt.UTC).microsecond / 1e6
    )  # the newcomer signs up a second later
    body = user_body()
    newcomer = (await client.post("/register", json=body)).json()
    if database_url.startswith("sqlite"):
        assert newcomer["id"] == admin.id
    old = await client.get("/me", headers=admin.headers)
    assert old.status_code == 401, old.text
    assert (await client.get("/orders", headers=admin.headers)).status_code == 401
    login = await client.post("/login", json={"email": body["email"], "password": body["password"]})
    own = await client.get("/me", headers={"Authorization": f"Bearer {login.json()['access_token']}"})
    assert own.status_code == 200
    assert own.json()["id"] == newcomer["id"]
    async with db() as session:
        stored = await session.get(User, newcomer["id"])
    assert stored.email == body["email"].lower()


async def test_demoted_admin_loses_admin_access_at_once(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    event = await make_event(client, admin)
    async with db() as session:
        await session.execute(update(User).where(User.id == admin.id).values(role="attendee"))
        await session.commit()

    assert (await client.get("/me", headers=admin.headers)).json()["role"] == "attendee"
    assert (await client.post("/events", json=event_body(), headers=admin.headers)).status_code == 403
    assert (await client.delete(f"/events/{event['id']}", headers=admin.headers)).status_code == 403
    assert (await client.get("/users", headers=admin.headers)).status_code == 403
    assert (
        await client.post("/register", json=user_body(role="admin"), headers=admin.headers)
    ).status_code == 403
    assert (await client.get(f"/events/{event['id']}")).json()["status"] == "scheduled"


async def test_promoted_user_gains_access_without_a_new_token(client, db) -> None:
    user = await make_actor(client, db)
    assert (await client.get("/users", headers=user.headers)).status_code == 403
    async with db() as session:
        await session.execute(update(User).where(User.id == user.id).values(role="admin"))
        await session.commit()
    assert (await client.get("/users", headers=user.headers)).status_code == 200


async def test_token_expires_after_the_configured_lifetime(client, db, settings) -> None:
    actor = await make_actor(client, db)
    claims = Token.decode(actor.token, secret=settings.jwt_secret, algorithm="HS256")
    lifetime = (claims.exp - claims.iat).total_seconds()
    assert lifetime == pytest.approx(settings.jwt_ttl_seconds, abs=2)
    assert claims.sub == str(actor.id)
    assert "role" not in claims.extras  # the role is never trusted from the token


# Who may do what: each role reaches exactly what the spec allows.
ROLE_MATRIX = [
    # (role, method, path, expected status)
    (None, "GET", "/me", 401),
    (None, "GET", "/users", 401),
    (None, "POST", "/users", 401),
    (None, "POST", "/events", 401),
    (None, "GET", "/events", 200),
    ("attendee", "GET", "/me", 200),
    ("attendee", "GET", "/users", 403),
    ("attendee", "POST", "/users", 403),
    ("attendee", "POST", "/events", 403),
    ("staff", "GET", "/me", 200),
    ("staff", "GET", "/users", 403),
    ("staff", "POST", "/users", 403),
    ("staff", "POST", "/events", 403),
    ("admin", "GET", "/me", 200),
    ("admin", "GET", "/users", 200),
    ("admin", "POST", "/users", 201),
    ("admin", "POST", "/events", 201),
]


@pytest.mark.parametrize(("role", "method", "path", "status"), ROLE_MATRIX)
async def test_role_matrix(client, db, role, method, path, status) -> None:
    headers = (await make_actor(client, db, role=role)).headers if role else {}
    users_before = await count_users(db)
    body = (
        {"/users": user_body(role="staff"), "/events": event_body()}.get(path) if method == "POST" else None
    )
    response = await client.request(method, path, json=body, headers=headers)
    assert response.status_code == status, response.text
    created = 1 if (status == 201 and path == "/users") else 0
    assert await count_users(db) == users_before + created


@pytest.mark.parametrize(
    ("creator", "role", "status"),
    [
        (None, "attendee", 201),
        (None, "staff", 403),
        (None, "admin", 403),
        ("attendee", "staff", 403),
        ("attendee", "admin", 403),
        ("staff", "staff", 403),
        ("staff", "admin", 403),
        ("admin", "staff", 201),
        ("admin", "admin", 201),
        ("admin", "attendee", 201),
    ],
)
async def test_registration_escalation_rules(client, db, creator, role, status) -> None:
    headers = (await make_actor(client, db, role=creator)).headers if creator else {}
    before = await count_users(db)
    response = await client.post("/register", json=user_body(role=role), headers=headers)
    assert response.status_code == status, response.text
    assert await count_users(db) == before + (1 if status == 201 else 0)
    if status == 201:
        assert response.json()["role"] == role


async def test_admin_lists_users_with_paging_and_role_filter(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    staff = [await make_actor(client, db, role="staff") for _ in range(3)]
    await make_actor(client, db)

    page = (await client.get("/users?limit=2&offset=1", headers=admin.headers)).json()
    assert page["total"] == 5
    assert page["limit"] == 2
    assert page["offset"] == 1
    assert [u["id"] for u in page["items"]] == [staff[0].id, staff[1].id]
    assert all("password_hash" not in u and "password" not in u for u in page["items"])

    only_staff = (await client.get("/users?role=staff", headers=admin.headers)).json()
    assert {u["id"] for u in only_staff["items"]} == {s.id for s in staff}
    assert (await client.get("/users?role=owner", headers=admin.headers)).status_code == 400

    one = await client.get(f"/users/{staff[2].id}", headers=admin.headers)
    assert one.status_code == 200
    assert one.json()["email"] == staff[2].email
    missing = await client.get("/users/999999", headers=admin.headers)
    assert missing.status_code == 404
    assert missing.json() == {"status_code": 404, "detail": "user not found", "extra": {}}
