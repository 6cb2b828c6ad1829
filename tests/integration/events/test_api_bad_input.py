"""Bad input on every accounts, events and health endpoint: always a clear 4xx JSON error
`{status_code, detail, extra}` (never a 500, never HTML), and the database unchanged."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select, text

import ticketflow.db.models  # noqa: F401 - every table
from tests.support.api import Actor, make_actor, make_event
from tests.support.factories import event_body, user_body
from ticketflow.app import create_app
from ticketflow.db.base import Base

LONG = "x" * 10_000
HUGE_NUMBERS: list[Any] = [-1, -(2**63), 2**63, 2**64, 10**30, 1e308, -1e308, 1.5, 0.1]
WRONG_TYPES: list[Any] = [None, True, [], {}, [1, 2], {"nested": "object"}]
METACHARACTERS = ["'; DROP TABLE users; --", '" OR "1"="1', "<script>alert(1)</script>", "%_\\", "\x00"]
MALFORMED: list[bytes] = [
    b"",
    b"{",
    b'{"title": ',
    b"not json",
    b"\xff\xfe\x00\x01",
    b'{"a": 1,}',
    b'{"a": 1}{"b": 2}',
    b'{"capacity": NaN}',
    b"null",
    b"[]",
    b'"a string"',
    b"12345",
    b"true",
    b"[" * 5000,
    b'{"title": "' + b"a" * 2_000_000 + b'"}',  # over the 1 MiB request limit
]
WRONG_CONTENT_TYPES = ["text/plain", "application/xml", "text/html", "application/x-www-form-urlencoded"]

USER_FIELDS = {"name": "str", "email": "str", "password": "str", "role": "str"}
EVENT_FIELDS = {
    "title": "str",
    "venue": "str",
    "description": "text",
    "timezone": "str",
    "currency": "str",
    "starts_at": "datetime",
    "ends_at": "datetime",
    "sales_start_at": "datetime",
    "sales_end_at": "datetime",
    "capacity": "int",
    "price_cents": "int",
    "max_per_order": "int",
}
USER_REQUIRED = ("name", "email", "password")
EVENT_REQUIRED = ("title", "venue", "starts_at", "capacity")
Case = tuple[str, dict[str, Any]]


def json_request(body: Any) -> dict[str, Any]:
    return {"content": json.dumps(body).encode(), "headers": {"Content-Type": "application/json"}}


def raw_request(content: bytes, content_type: str | None = "application/json") -> dict[str, Any]:
    return {"content": content, "headers": {"Content-Type": content_type} if content_type else {}}


def field_values(kind: str) -> list[Any]:
    if kind in ("str", "text"):
        line_break = [] if kind == "text" else ["a\nb"]
        return [LONG, None, 1, 1.5, True, [], {}, "\x00", "\x1b[31m", *line_break]
    if kind == "datetime":
        return [
            LONG,
            "2031-06-01T20:00:00",
            "2031-13-45T25:61:00+00:00",
            "yesterday",
            "",
            1_900_000_000,
            -1,
            1e308,
            True,
            [],
        ]
    return [*HUGE_NUMBERS, "100", "", LONG, *WRONG_TYPES[1:], 7.0 + 1e-9]


def body_cases(valid: dict[str, Any], fields: dict[str, str], required: tuple[str, ...]) -> Iterator[Case]:
    """Malformed, empty and mistyped bodies, missing fields and out-of-range values."""
    for raw in MALFORMED:
        yield f"malformed {raw[:12]!r} ({len(raw)} bytes)", raw_request(raw)
    for content_type in WRONG_CONTENT_TYPES:
        yield f"content type {content_type}", raw_request(json.dumps(valid).encode(), content_type)
    yield "no content type", raw_request(json.dumps(valid).encode(), None)
    yield "multipart", {"files": {"file": ("body.json", json.dumps(valid).encode(), "application/json")}}
    for name in required:
        yield f"missing {name}", json_request({k: v for k, v in valid.items() if k != name})
    yield "unknown field", json_request({**valid, "is_superuser": True})
    for name, kind in fields.items():
        for value in field_values(kind):
            if value is None and name not in required and kind == "datetime":
                continue  # null is a valid "no date" for optional dates
            yield f"{name}={str(value)[:20]!r}", json_request({**valid, name: value})


def id_cases() -> Iterator[str]:
    yield from (
        "999999",
        "0",
        "-1",
        str(2**63),
        str(2**64),
        "abc",
        "1.5",
        "1e3",
        "%27%20OR%201%3D1",
        "%3Cb%3E",
    )


def assert_clean_error(label: str, response: Any) -> str | None:
    """None when `response` is a clean 4xx JSON error; otherwise what is wrong with it."""
    if not 400 <= response.status_code < 500:
        return f"{label}: status {response.status_code}: {response.text[:300]}"
    if not response.headers.get("content-type", "").startswith("application/json"):
        return f"{label}: content type {response.headers.get('content-type')}"
    body = response.json()
    if set(body) != {"status_code", "detail", "extra"} or body["status_code"] != response.status_code:
        return f"{label}: body {body}"
    if not isinstance(body["detail"], str) or not body["detail"] or "Traceback" in response.text:
        return f"{label}: detail {body['detail']!r}"
    return None


async def database_state(db) -> dict[str, Any]:
    """Row counts of every table, and every user and event row as stored."""
    async with db() as session:
        state: dict[str, Any] = {}
        for table in Base.metadata.sorted_tables:
            state[table.name] = await session.scalar(select(func.count()).select_from(table))
        for table in ("users", "events"):
            rows = await session.execute(text(f"SELECT * FROM {table} ORDER BY id"))
            state[f"{table} rows"] = [tuple(row) for row in rows]
    return state


@pytest.fixture
async def battery_client(settings) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """The app with login limits out of the way (the battery sends hundreds of logins)."""
    relaxed = settings.with_overrides(
        login_max_attempts_per_client=100_000, login_max_attempts_per_account=100_000
    )
    async with AsyncTestClient(app=create_app(relaxed)) as client:
        yield client


@pytest.fixture
async def world(battery_client, db) -> dict[str, Any]:
    """An admin, an attendee, a staff member and one event, made before the battery."""
    admin = await make_actor(battery_client, db, role="admin")
    attendee = await make_actor(battery_client, db)
    staff = await make_actor(battery_client, db, role="staff")
    event = await make_event(battery_client, admin)
    return {"admin": admin, "attendee": attendee, "staff": staff, "event": event}


async def run_battery(client, db, method: str, path: str, cases: Iterator[Case], actor: Actor | None) -> None:
    before = await database_state(db)
    problems = []
    for label, request in cases:
        headers = {**(actor.headers if actor else {}), **request.pop("headers", {})}
        response = await client.request(method, path, headers=headers, **request)
        problem = assert_clean_error(f"{method} {path} {label}", response)
        if problem:
            problems.append(problem)
    assert problems == []
    assert await database_state(db) == before


async def test_register(battery_client, db, world) -> None:
    valid = user_body()
    cases = body_cases(valid, USER_FIELDS, USER_REQUIRED)
    await run_battery(battery_client, db, "POST", "/register", cases, None)


async def test_create_user(battery_client, db, world) -> None:
    valid = user_body(role="staff")
    cases = body_cases(valid, USER_FIELDS, USER_REQUIRED)
    await run_battery(battery_client, db, "POST", "/users", cases, world["admin"])


async def test_login(battery_client, db, world) -> None:
    attendee: Actor = world["attendee"]
    valid = {"email": attendee.email, "password": attendee.password}

    def cases() -> Iterator[Case]:
        yield from body_cases(valid, {"email": "str", "password": "str"}, ("email", "password"))
        yield "form without password", {"data": {"username": attendee.email}}
        yield "form without username", {"data": {"password": attendee.password}}
        yield "form with json names", {"data": valid}
        yield "form 10 000 characters", {"data": {"username": LONG, "password": LONG}}
        yield "form 300 characters", {"data": {"username": "u" * 300, "password": "p"}}
        yield (
            "form password as a file",
            {"data": {"username": attendee.email}, "files": {"password": ("p", b"x")}},
        )
        for value in METACHARACTERS:
            yield f"json email {value!r}", json_request({"email": value, "password": value})
            yield f"form email {value!r}", {"data": {"username": value, "password": value}}

    await run_battery(battery_client, db, "POST", "/login", cases(), None)


async def test_events_writes(battery_client, db, world) -> None:
    admin: Actor = world["admin"]
    event_id = world["event"]["id"]
    valid = event_body()
    await run_battery(
        battery_client, db, "POST", "/events", body_cases(valid, EVENT_FIELDS, EVENT_REQUIRED), admin
    )
    await run_battery(
        battery_client,
        db,
        "PUT",
        f"/events/{event_id}",
        body_cases(valid, EVENT_FIELDS, EVENT_REQUIRED),
        admin,
    )
    await run_battery(
        battery_client, db, "PATCH", f"/events/{event_id}", body_cases(valid, EVENT_FIELDS, ()), admin
    )


async def test_unknown_and_malformed_ids(battery_client, db, world) -> None:
    admin: Actor = world["admin"]
    for identifier in id_cases():
        for method, path, request in (
            ("GET", f"/events/{identifier}", {}),
            ("PUT", f"/events/{identifier}", json_request(event_body())),
            ("PATCH", f"/events/{identifier}", json_request({"title": "x"})),
            ("DELETE", f"/events/{identifier}", {}),
            ("GET", f"/users/{identifier}", {}),
        ):
            await run_battery(battery_client, db, method, path, iter([(identifier, request)]), admin)


async def test_queries_and_methods_on_read_endpoints(battery_client, db, world) -> None:
    admin: Actor = world["admin"]
    junk_queries = {
        "/users": ["limit=-1", "limit=1e308", f"offset={2**64}", "limit=" + LONG, "role=superuser", "role="],
        "/events": ["limit=-1", "limit=1e308", f"offset={2**64}", "limit=" + LONG, "upcoming=2", "q=" + LONG],
    }
    for path, queries in junk_queries.items():
        cases = [(query[:30], {"params": dict([query.split("=", 1)])}) for query in queries]
        await run_battery(battery_client, db, "GET", path, iter(cases), admin)
    for method, path in (
        ("POST", "/health"),
        ("DELETE", "/ready"),
        ("PUT", "/me"),
        ("DELETE", "/users"),
        ("POST", f"/events/{world['event']['id']}"),
        ("GET", "/login"),
        ("GET", "/register"),
        ("PATCH", "/events"),
    ):
        await run_battery(battery_client, db, method, path, iter([("method", json_request({"x": 1}))]), admin)


async def test_read_endpoints_ignore_junk_and_stay_json(battery_client, db, world) -> None:
    """Junk the read endpoints do not use (bodies, unknown parameters) changes nothing."""
    before = await database_state(db)
    for path in ("/health", "/ready", "/me", "/events", f"/events/{world['event']['id']}", "/users"):
        response = await battery_client.request(
            "GET",
            path,
            params={"unknown": "<script>", "q2": "' OR 1=1 --"},
            content=b"{not json",
            headers={**world["admin"].headers, "Content-Type": "text/html"},
        )
        assert response.status_code == 200, (path, response.text)
        assert response.headers["content-type"].startswith("application/json")
    assert await database_state(db) == before


async def test_metacharacters_are_kept_as_plain_text(battery_client, db, world) -> None:
    """SQL and HTML metacharacters are data: stored and returned verbatim, never interpreted."""
    admin: Actor = world["admin"]
    values = [v for v in METACHARACTERS if "\x00" not in v]
    for value in values:
        created = await battery_client.post(
            "/events", json=event_body(title=value, venue=value, description=value), headers=admin.headers
        )
        assert created.status_code == 201, created.text
        event = created.json()
        assert (event["title"], event["venue"], event["description"]) == (value, value, value)
        assert (await battery_client.get(f"/events/{event['id']}")).json()["title"] == value
        user = await battery_client.post("/register", json=user_body(name=value))
        assert user.status_code == 201
        assert user.json()["name"] == value
    state = await database_state(db)
    assert state["events"] == 1 + len(values)
    assert state["users"] == 3 + len(values)
    # control characters could end up in e-mail headers: refused
    for value in ("a\r\nBcc: victim@example.com", "\x00"):
        refused = await battery_client.post("/register", json=user_body(name=value))
        assert refused.status_code == 400
    assert (await database_state(db))["users"] == state["users"]
