"""Log lines: JSON in production, and the request id in every line written during a request."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from litestar.testing import AsyncTestClient

from tests.support.databases import settings_for_tests as settings_for
from ticketflow.app import create_app
from ticketflow.lib.logs import JsonFormatter
from ticketflow.lib.request_ids import RequestIdFilter
from ticketflow.lib.ticket_codes import new_ticket_code
from ticketflow.settings import Settings


@contextmanager
def application_log() -> Iterator[io.StringIO]:
    """What the application's own log handler writes (normally stderr), while the block runs."""
    buffer = io.StringIO()
    swapped: list[tuple[logging.StreamHandler[Any], Any]] = []
    for handler in logging.getLogger().handlers:
        listener = getattr(handler, "listener", None)
        for inner in listener.handlers if listener is not None else [handler]:
            if isinstance(inner, logging.StreamHandler):
                swapped.append((inner, inner.setStream(buffer)))
    assert swapped, "the application configures a stream handler"
    try:
        yield buffer
    finally:
        for inner, previous in swapped:
            inner.setStream(previous)


def wait_for_lines(buffer: io.StringIO, done: Callable[[list[str]], bool]) -> list[str]:
    """The lines written so far, once `done` holds (the handler writes from its own thread)."""
    deadline = time.monotonic() + 10
    while True:
        lines = buffer.getvalue().splitlines()
        if done(lines) or time.monotonic() > deadline:
            return lines
        time.sleep(0.02)


async def test_every_json_line_of_a_request_carries_its_id(settings: Settings) -> None:
    app = create_app(settings.with_overrides(log_json=True, database_echo=True))
    async with AsyncTestClient(app=app) as client:
        with application_log() as buffer:
            response = await client.get("/events/424242", headers={"X-Request-ID": "trace-me-1"})
            lines = wait_for_lines(buffer, lambda lines: any("ticketflow.access" in line for line in lines))

    assert response.status_code == 404
    assert response.headers["X-Request-ID"] == "trace-me-1"
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    queries = [r for r in records if r["logger"].startswith("sqlalchemy.engine")]
    access = [r for r in records if r["logger"] == "ticketflow.access"]
    assert queries, "the request ran SQL (DATABASE_ECHO=1 logs it)"
    assert len(access) == 1
    for record in [*queries, *access]:
        assert record["request_id"] == "trace-me-1", record
        assert {"time", "level", "message", "process"} <= record.keys()
    assert access[0] | {"duration_ms": 0} == access[0] | {
        "method": "GET",
        "path": "/events/424242",
        "route": "/events/{event_id}",
        "status": 404,
        "duration_ms": 0,
    }
    assert access[0]["duration_ms"] > 0


async def test_requests_do_not_share_ids_and_lines_outside_requests_have_none(settings: Settings) -> None:
    app = create_app(settings.with_overrides(log_json=True))
    async with AsyncTestClient(app=app) as client:
        with application_log() as buffer:
            first = await client.get("/health")
            second = await client.get("/health")
            logging.getLogger("ticketflow.test").warning("outside any request")
            lines = wait_for_lines(buffer, lambda lines: any("outside any request" in line for line in lines))

    records = [json.loads(line) for line in lines]
    access_ids = [r["request_id"] for r in records if r["logger"] == "ticketflow.access"]
    assert access_ids == [first.headers["X-Request-ID"], second.headers["X-Request-ID"]]
    assert access_ids[0] != access_ids[1]
    outside = next(r for r in records if r["message"] == "outside any request")
    assert "request_id" not in outside
    assert outside["level"] == "WARNING"


async def test_text_lines_show_the_request_id_in_development(database_url: str) -> None:
    app = create_app(settings_for(database_url, env="development", log_json=False))
    async with AsyncTestClient(app=app) as client:
        with application_log() as buffer:
            await client.get("/events", headers={"X-Request-ID": "trace-me-2"})
            lines = wait_for_lines(buffer, lambda lines: any("trace-me-2" in line for line in lines))

    line = next(line for line in lines if "ticketflow.access" in line)
    assert " INFO ticketflow.access [trace-me-2] GET /events 200 " in line
    assert not line.startswith("{")


def test_json_lines_keep_extra_fields_and_the_traceback() -> None:
    formatter, request_ids = JsonFormatter(), RequestIdFilter()
    try:
        raise ValueError("boom")
    except ValueError as exc:
        record = logging.LogRecord("ticketflow.x", logging.ERROR, __file__, 1, "failed: %s", (exc,), None)
        record.exc_info = (type(exc), exc, exc.__traceback__)
    record.order_id = 42
    record.unserialisable = object()
    assert request_ids.filter(record) is True

    line = json.loads(formatter.format(record))

    assert line["message"] == "failed: boom"
    assert line["level"] == "ERROR"
    assert line["order_id"] == 42
    assert line["unserialisable"].startswith("<object object")
    assert "ValueError: boom" in line["exception"]
    assert "request_id" not in line


async def test_access_lines_never_show_a_ticket_code(settings: Settings) -> None:
    code = new_ticket_code()
    app = create_app(settings.with_overrides(log_json=True))
    async with AsyncTestClient(app=app) as client:
        with application_log() as buffer:
            scanned = await client.post(f"/tickets/{code}/validate")
            mistyped = await client.get(f"/tickets/{code}/validat")
            lines = wait_for_lines(
                buffer, lambda lines: sum("ticketflow.access" in line for line in lines) >= 2
            )

    assert (scanned.status_code, mistyped.status_code) == (401, 404)
    records = [json.loads(line) for line in lines]
    access = [r for r in records if r["logger"] == "ticketflow.access"]
    assert not [r for r in records if code in json.dumps(r) and r["logger"].startswith("ticketflow")]
    assert [(r["path"], r["route"]) for r in access] == [
        ("/tickets/{qr_code}/validate", "/tickets/{qr_code}/validate"),
        ("/tickets/{redacted}/validat", "unmatched"),
    ]


async def test_a_line_break_in_a_path_cannot_forge_a_text_line(database_url: str) -> None:
    forged = "2026-01-01 00:00:00,000 INFO ticketflow.access [forged] GET /admin 200 1.0 ms"
    app = create_app(settings_for(database_url, env="development", log_json=False))
    async with AsyncTestClient(app=app) as client:
        with application_log() as buffer:
            response = await client.get(f"/nowhere%0A{forged.replace(' ', '%20')}%0D%1B[31m")
            lines = wait_for_lines(buffer, lambda lines: any("ticketflow.access" in line for line in lines))

    assert response.status_code == 404
    assert not any(line.startswith("2026-01-01") for line in lines)
    (line,) = [line for line in lines if line.split(" ")[3:4] == ["ticketflow.access"]]
    assert f"GET /nowhere\\n{forged}\\r\\x1b[31m 404 " in line
