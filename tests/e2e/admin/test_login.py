"""Back office login: admins only, a safe session cookie, logout, rate limits, bad input."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import update

from tests.support.api import make_actor, make_event
from tests.support.back_office import log_in, own_origin
from tests.support.production import production_overrides
from ticketflow.admin import auth
from ticketflow.app import create_app
from ticketflow.db.models.users import User


def cookie_header(response) -> str:
    cookies = [v for k, v in response.headers.multi_items() if k.lower() == "set-cookie"]
    assert len(cookies) == 1, cookies
    return cookies[0]


async def test_admin_logs_in_with_a_safe_cookie(client, admin) -> None:
    response = await log_in(client, admin.email.upper(), admin.password)

    assert response.status_code == 302
    assert response.headers["location"].endswith("/admin/")
    cookie = cookie_header(response)
    name, _, rest = cookie.partition("=")
    attributes = {part.strip().split("=")[0].lower() for part in rest.split(";")[1:]}
    assert name == "ticketflow_admin"
    assert {"httponly", "samesite", "path", "max-age"} <= attributes
    assert "samesite=lax" in cookie.lower()
    assert "path=/admin;" in cookie.lower()
    assert "secure" not in attributes  # plain HTTP outside production
    payload = json.loads(base64.b64decode(rest.split(";")[0].split(".")[0]))
    assert set(payload) == {"user_id", "key", "since"}  # no hash, no e-mail in the cookie
    assert payload["user_id"] == admin.id
    assert "argon2" not in cookie

    home = await client.get("/admin/", follow_redirects=True)
    assert home.status_code == 200
    assert str(home.url).endswith("/admin/dashboard")
    assert "Dashboard" in home.text


async def test_cookie_is_secure_in_production(settings, db) -> None:
    production = settings.with_overrides(**production_overrides(), argon2_memory_kib=7168, argon2_time_cost=5)
    async with AsyncTestClient(app=create_app(production), base_url="https://testserver.local") as client:
        admin = await make_actor(client, db, role="admin")
        response = await log_in(client, admin.email, admin.password)
    assert response.status_code == 302
    assert "; secure" in cookie_header(response).lower()


async def test_https_answers_ask_for_https_only_in_production(settings) -> None:
    """Strict-Transport-Security on the API's and the back office's https answers in production;
    not in development, nor over plain http (a loopback address stays usable)."""
    production = settings.with_overrides(**production_overrides(), argon2_memory_kib=7168, argon2_time_cost=5)
    for configured, base_url, expected in (
        (production, "https://testserver.local", "max-age=31536000"),
        (production, "http://testserver.local", None),
        (settings, "https://testserver.local", None),
    ):
        async with AsyncTestClient(app=create_app(configured), base_url=base_url) as client:
            for path in ("/health", "/events", "/admin/login", "/no-such-page"):
                response = await client.get(path, follow_redirects=False)
                assert response.headers.get("strict-transport-security") == expected, (base_url, path)


@pytest.mark.parametrize("password", ["wrong-password", ""])
async def test_wrong_password_is_refused(client, admin, password) -> None:
    response = await log_in(client, admin.email, password)
    assert response.status_code == 400
    assert "Invalid credentials" in response.text
    assert "set-cookie" not in response.headers
    assert (await client.get("/admin/dashboard", follow_redirects=False)).status_code == 302


async def test_unknown_email_gets_the_same_answer(client, admin) -> None:
    response = await log_in(client, "nobody@example.com", admin.password)
    assert response.status_code == 400
    assert "Invalid credentials" in response.text


async def test_attendees_are_refused(client, db) -> None:
    user = await make_actor(client, db, role="attendee")
    response = await log_in(client, user.email, user.password)

    assert response.status_code == 403
    assert "Only administrators, and door staff for the door desk, can sign in here." in response.text
    assert "set-cookie" not in response.headers
    page = await client.get("/admin/user/list", follow_redirects=False)
    assert page.status_code == 302
    assert page.headers["location"].endswith("/admin/login")


async def test_logout_ends_the_session(back_office) -> None:
    assert (await back_office.get("/admin/dashboard")).status_code == 200
    response = await back_office.get("/admin/logout", follow_redirects=False)
    assert response.status_code == 302
    assert response.headers["location"].endswith("/admin/login")
    assert "ticketflow_admin=null" in cookie_header(response)
    after = await back_office.get("/admin/dashboard", follow_redirects=False)
    assert after.status_code == 302


@pytest.mark.parametrize("role", ["staff", "attendee"])
async def test_demoted_admin_is_out_at_once(back_office, db, admin, role) -> None:
    async with db() as session:
        await session.execute(update(User).where(User.id == admin.id).values(role=role))
        await session.commit()
    response = await back_office.get("/admin/dashboard", follow_redirects=False)
    assert response.status_code == 302
    assert response.headers["location"].endswith("/admin/login")


async def test_password_change_ends_back_office_sessions(back_office, db, admin) -> None:
    async with db() as session:
        await session.execute(
            update(User).where(User.id == admin.id).values(password_hash="$argon2id$v=19$other")
        )
        await session.commit()
    assert (await back_office.get("/admin/dashboard", follow_redirects=False)).status_code == 302


async def test_login_ends_eight_hours_after_it_however_busy(client, admin, monkeypatch) -> None:
    """A change with a flash message signs the cookie again (a fresh Max-Age and signature time):
    the login's own time ends the session, 8 hours after it."""
    event = await make_event(client, admin)
    login_time = dt.datetime(2031, 5, 4, 9, 0, tzinfo=dt.UTC)
    clock = {"now": login_time}
    monkeypatch.setattr(auth, "utc_now", lambda: clock["now"])
    assert (await log_in(client, admin.email, admin.password)).status_code == 302

    clock["now"] = login_time + dt.timedelta(hours=7)
    assert (await client.get("/admin/dashboard", follow_redirects=False)).status_code == 200
    added = await client.post(
        f"/admin/sales/events/{event['id']}/ticket-types",
        data={"name": "VIP", "price_cents": "0", "active": "y"},
        follow_redirects=False,
    )
    assert added.status_code == 303
    assert "ticketflow_admin=" in added.headers["set-cookie"]  # signed again: Max-Age starts over

    clock["now"] = login_time + dt.timedelta(hours=9)
    late = await client.get("/admin/dashboard", follow_redirects=False)
    assert late.status_code in {302, 303}
    assert "/admin/login" in late.headers["location"]
    assert "ticketflow_admin=null" in late.headers["set-cookie"]  # the session is ended
    clock["now"] = login_time + dt.timedelta(hours=1)
    again = await client.get("/admin/dashboard", follow_redirects=False)
    assert "/admin/login" in again.headers["location"]


async def test_forged_cookie_is_ignored(client, admin) -> None:
    forged = base64.b64encode(json.dumps({"user_id": admin.id, "key": "x"}).encode()).decode()
    client.cookies.set("ticketflow_admin", f"{forged}.AAAAAA.not-a-signature", path="/admin")
    response = await client.get("/admin/dashboard", follow_redirects=False)
    assert response.status_code == 302


async def test_login_attempts_are_limited_and_shared_with_the_api(client, db, settings) -> None:
    admin = await make_actor(client, db, role="admin")
    for _ in range(settings.login_max_attempts_per_account):
        assert (await log_in(client, admin.email, "wrong-password")).status_code == 400

    blocked = await log_in(client, admin.email, admin.password)  # even the right password now

    assert blocked.status_code == 429
    assert "Too many attempts" in blocked.text
    assert int(blocked.headers["retry-after"]) >= 1
    assert "set-cookie" not in blocked.headers
    api = await client.post("/login", json={"email": admin.email, "password": admin.password})
    assert api.status_code == 429


BAD_LOGIN_BODIES = [
    (b"", "application/x-www-form-urlencoded"),
    (b"username=&password=", "application/x-www-form-urlencoded"),
    (b"username=a%40b.c", "application/x-www-form-urlencoded"),
    (b"password=only", "application/x-www-form-urlencoded"),
    (b"username=" + b"a" * 5000 + b"&password=x", "application/x-www-form-urlencoded"),
    (b"username=a%40b.c&password=" + b"p" * 5000, "application/x-www-form-urlencoded"),
    (b"username=%FF%FE&password=%00%01", "application/x-www-form-urlencoded"),
    (b'{"username": "a@b.c", "password": "x"}', "application/json"),
    (b"\xff\xfe\x00garbage", "multipart/form-data; boundary=zzz"),
    (b"--zzz\r\nbroken", "multipart/form-data; boundary=zzz"),
]


async def test_bad_login_input_is_a_clean_refusal(client, admin) -> None:
    for body, content_type in BAD_LOGIN_BODIES:
        response = await client.post(
            "/admin/login",
            content=body,
            headers={"Content-Type": content_type, "Origin": own_origin(client)},
            follow_redirects=False,
        )
        assert response.status_code == 400, body[:40]
        assert "Traceback" not in response.text
        assert "set-cookie" not in response.headers


async def test_oversized_request_is_refused(client) -> None:
    response = await client.post(
        "/admin/login",
        content=b"username=" + b"a" * 1_100_000,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413


async def test_oversized_body_without_a_length_is_refused(app) -> None:
    """A chunked body (no Content-Length) is cut at 1 MB, straight at the ASGI interface."""
    messages = [{"type": "http.request", "body": b"a" * 65_536, "more_body": True} for _ in range(40)]
    sent: list[dict] = []

    async def receive() -> dict:
        return messages.pop(0) if messages else {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/admin/login",
        "raw_path": b"/admin/login",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            (b"origin", b"http://testserver"),
            (b"content-type", b"application/x-www-form-urlencoded"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)

    starts = [m for m in sent if m["type"] == "http.response.start"]
    assert [m["status"] for m in starts] == [413]
    assert len(messages) < 40 - 16  # reading stopped soon after the cap
