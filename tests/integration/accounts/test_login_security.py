"""Login: JSON and form, equal answers and comparable cost for unknown e-mail and wrong password,
attempt limits per client and per account, hashes upgraded on login."""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import select

from tests.support.api import TEST_PASSWORDS, make_actor
from tests.support.factories import user_body
from tests.support.live import live_client, live_servers
from tests.support.mariadb import free_port
from ticketflow.app import create_app
from ticketflow.db.models.users import User
from ticketflow.domain.accounts.service import AccountService
from ticketflow.lib.passwords import Passwords
from ticketflow.settings import Settings

ATTEMPTS = 6


async def stored_hash(db, user_id: int) -> str:
    async with db() as session:
        return str(await session.scalar(select(User.password_hash).where(User.id == user_id)))


async def test_login_json_and_form_give_the_same_kind_of_token(client, db) -> None:
    actor = await make_actor(client, db)
    as_json = await client.post("/login", json={"email": actor.email.upper(), "password": actor.password})
    as_form = await client.post("/login", data={"username": actor.email, "password": actor.password})
    as_multipart = await client.post(
        "/login", files={"username": (None, actor.email), "password": (None, actor.password)}
    )
    for response in (as_json, as_form, as_multipart):
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["token_type"] == "bearer"
        assert body["expires_in"] == 3600
        me = await client.get("/me", headers={"Authorization": f"Bearer {body['access_token']}"})
        assert me.json()["id"] == actor.id


async def test_wrong_password_and_unknown_email_get_identical_answers(client, db) -> None:
    actor = await make_actor(client, db)
    wrong_json = await client.post("/login", json={"email": actor.email, "password": "wrong-password"})
    unknown_json = await client.post(
        "/login", json={"email": "ghost@example.com", "password": "wrong-password"}
    )
    wrong_form = await client.post("/login", data={"username": actor.email, "password": "wrong-password"})
    unknown_form = await client.post("/login", data={"username": "ghost@example.com", "password": "x"})
    bodies = {r.text for r in (wrong_json, unknown_json, wrong_form, unknown_form)}
    assert {r.status_code for r in (wrong_json, unknown_json, wrong_form, unknown_form)} == {401}
    assert len(bodies) == 1
    assert wrong_json.json()["detail"] == "wrong e-mail or password"


async def test_unknown_email_costs_as_much_as_a_wrong_password(settings, db) -> None:
    """With the real argon2 parameters, an unknown e-mail is not answered measurably faster."""
    defaults = Settings()
    real = settings.with_overrides(
        argon2_memory_kib=defaults.argon2_memory_kib,
        argon2_time_cost=defaults.argon2_time_cost,
        argon2_parallelism=defaults.argon2_parallelism,
        login_max_attempts_per_client=1000,
        login_max_attempts_per_account=1000,
    )
    passwords = Passwords(real.argon2_memory_kib, real.argon2_time_cost, real.argon2_parallelism)
    body = user_body()
    async with db() as session:
        await AccountService(session, passwords).create_user(
            name=body["name"], email=body["email"], password=body["password"], role="attendee"
        )

    async with AsyncTestClient(app=create_app(real)) as client:

        async def timed(email: str) -> float:
            started = time.perf_counter()
            response = await client.post("/login", json={"email": email, "password": "not-the-password"})
            elapsed = time.perf_counter() - started
            assert response.status_code == 401
            return elapsed

        await timed(body["email"])  # warm up connections and code paths
        await timed("warm-up@example.com")
        wrong, unknown = [], []
        for attempt in range(ATTEMPTS):
            wrong.append(await timed(body["email"]))
            unknown.append(await timed(f"nobody-{attempt}@example.com"))

    assert statistics.median(unknown) >= 0.5 * statistics.median(wrong), (wrong, unknown)


async def test_attempts_are_limited_per_client(settings, db) -> None:
    limited = settings.with_overrides(login_max_attempts_per_client=3, login_max_attempts_per_account=100)
    async with AsyncTestClient(app=create_app(limited)) as client:
        actor = await make_actor(client, db)
        statuses = []
        for attempt in range(4):
            response = await client.post(
                "/login", json={"email": f"someone-{attempt}@example.com", "password": "guess-123"}
            )
            statuses.append(response.status_code)
        assert statuses == [401, 401, 401, 429]
        blocked = await client.post("/login", json={"email": actor.email, "password": actor.password})
        assert blocked.status_code == 429
        assert 1 <= int(blocked.headers["Retry-After"]) <= limited.login_window_seconds
        assert blocked.json()["status_code"] == 429
        assert blocked.json()["extra"]["retry_after"] == int(blocked.headers["Retry-After"])
        # the form login shares the same counter
        form = await client.post("/login", data={"username": actor.email, "password": actor.password})
        assert form.status_code == 429


async def test_attempts_are_limited_per_account_whatever_the_spelling(client, db, settings) -> None:
    actor = await make_actor(client, db)
    spellings = [actor.email, actor.email.upper(), f"  {actor.email}  ", actor.email.title()]
    statuses = []
    for attempt in range(settings.login_max_attempts_per_account + 1):
        email = spellings[attempt % len(spellings)]
        statuses.append((await client.post("/login", json={"email": email, "password": "bad"})).status_code)
    assert statuses[:-1] == [401] * settings.login_max_attempts_per_account
    assert statuses[-1] == 429
    other = await make_actor(client, db)  # another account from the same client still logs in
    assert (
        await client.post("/login", json={"email": other.email, "password": other.password})
    ).status_code == 200


async def test_a_burst_of_parallel_guesses_gets_no_more_than_the_limit(database_url, db, tmp_path) -> None:
    """On a real server, guesses sent at once are counted before their hashes are checked."""
    body = user_body()
    async with db() as session:
        await AccountService(session, TEST_PASSWORDS).create_user(
            name=body["name"], email=body["email"], password=body["password"], role="attendee"
        )
    with live_servers(database_url, 1, tmp_path, LOGIN_MAX_ATTEMPTS_PER_ACCOUNT="5") as (server,):
        async with live_client(base_url=server.base_url, timeout=30) as http:
            guesses = [
                http.post("/login", json={"email": body["email"], "password": f"guess-{n}"})
                for n in range(25)
            ]
            statuses = [response.status_code for response in await asyncio.gather(*guesses)]
            correct = await http.post("/login", json={"email": body["email"], "password": body["password"]})
    assert statuses.count(401) == 5, statuses
    assert statuses.count(429) == 20, statuses
    assert correct.status_code == 429


async def test_successful_logins_are_not_counted(client, db, settings) -> None:
    actor = await make_actor(client, db)
    for _ in range(settings.login_max_attempts_per_account + 2):
        response = await client.post("/login", json={"email": actor.email, "password": actor.password})
        assert response.status_code == 200


async def test_weak_hash_is_upgraded_on_login(settings, db) -> None:
    stronger = settings.with_overrides(argon2_memory_kib=2048, argon2_time_cost=2)
    body = user_body()
    async with db() as session:
        user = await AccountService(session, TEST_PASSWORDS).create_user(
            name=body["name"], email=body["email"], password=body["password"], role="attendee"
        )
    assert "$m=1024,t=1,p=1$" in await stored_hash(db, user.id)
    async with AsyncTestClient(app=create_app(stronger)) as client:
        credentials = {"email": body["email"], "password": body["password"]}
        assert (await client.post("/login", json=credentials)).status_code == 200
        assert "$m=2048,t=2,p=1$" in await stored_hash(db, user.id)
        assert (await client.post("/login", json=credentials)).status_code == 200


def client_address_from(header: str, asgi: Any) -> Any:
    """The app as seen behind a trusted proxy: the client address is taken from `header`."""

    async def handler(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == header.encode():
                    scope["client"] = (value.decode(), 50000)  # as uvicorn's proxy support does
        await asgi(scope, receive, send)

    return handler


async def test_a_strangers_wrong_passwords_do_not_lock_the_owner_out(settings, db) -> None:
    app = create_app(settings)
    app.asgi_handler = client_address_from("x-test-client", app.asgi_handler)
    stranger, home = {"X-Test-Client": "203.0.113.66"}, {"X-Test-Client": "198.51.100.7"}
    async with AsyncTestClient(app=app) as client:
        owner = await make_actor(client, db, role="admin")
        right = {"email": owner.email, "password": owner.password}
        guesses = [
            (
                await client.post("/login", json={**right, "password": f"guess-{n}"}, headers=stranger)
            ).status_code
            for n in range(settings.login_max_attempts_per_account + 1)
        ]
        # guessing stays limited for the stranger, even with the right password now
        assert guesses == [401] * settings.login_max_attempts_per_account + [429]
        assert (await client.post("/login", json=right, headers=stranger)).status_code == 429

        # the owner signs in from elsewhere, on both doors
        assert (await client.post("/login", json=right, headers=home)).status_code == 200
        back_office = await client.post(
            "/admin/login",
            data={"username": owner.email, "password": owner.password},
            headers={**home, "Origin": f"{client.base_url.scheme}://{client.base_url.netloc.decode()}"},
            follow_redirects=False,
        )
        assert back_office.status_code == 302
        assert back_office.headers["location"].endswith("/admin/")


async def test_sign_ups_are_limited_per_client(settings, db) -> None:
    limited = settings.with_overrides(register_max_per_client=2, register_window_seconds=600)
    async with AsyncTestClient(app=create_app(limited)) as client:
        statuses = [(await client.post("/register", json=user_body())).status_code for _ in range(2)]
        refused_body = user_body()
        refused = await client.post("/register", json=refused_body)
        assert statuses == [201, 201]
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 600
        async with db() as session:
            emails = set(await session.scalars(select(User.email)))
        assert len(emails) == 2
        assert refused_body["email"].lower() not in emails


async def test_an_unreachable_limit_store_refuses_with_503_and_creates_nothing(settings, db) -> None:
    unreachable = settings.with_overrides(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    async with AsyncTestClient(app=create_app(unreachable)) as client:
        login = await client.post("/login", json={"email": "someone@example.com", "password": "guess-123"})
        body = user_body()
        register = await client.post("/register", json=body)
    for response in (login, register):
        assert response.status_code == 503, response.text
        assert response.json()["detail"].startswith("attempt limits cannot be checked")
    async with db() as session:
        assert await session.scalar(select(User.id).where(User.email == body["email"])) is None
