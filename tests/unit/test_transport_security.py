"""HSTS on https answers only, whatever the app answers."""

from __future__ import annotations

from typing import Any

import pytest

from ticketflow.lib.transport_security import HSTS_HEADER, strict_transport


async def answered_headers(scheme: str) -> list[tuple[bytes, bytes]]:
    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}
        )
        await send({"type": "http.response.body", "body": b"ok"})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await strict_transport(app)({"type": "http", "scheme": scheme, "headers": []}, receive, send)
    assert sent[1]["body"] == b"ok"
    return list(sent[0]["headers"])


@pytest.mark.parametrize(("scheme", "hsts"), [("https", True), ("http", False)])
async def test_only_https_answers_carry_hsts(scheme: str, hsts: bool) -> None:
    headers = await answered_headers(scheme)
    assert (b"content-type", b"text/plain") in headers
    assert (HSTS_HEADER in headers) is hsts
