"""HTTP Strict Transport Security: once a browser has reached the server over https, it uses
nothing else for the server's host for a year.

Without it the first visit, or an address typed as `http://`, can be answered by anyone on the
way (hostile Wi-Fi at the venue) before the back office's `Secure` cookie or an API token is
sent. Only answers to https requests carry it (a browser ignores it over http anyway, and a
plain-http address on loopback stays usable): behind a TLS proxy, the scheme is the one the
trusted proxy forwards (`FORWARDED_ALLOW_IPS`). Production only (`create_app`).
"""

from __future__ import annotations

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

HSTS_HEADER = (b"strict-transport-security", b"max-age=31536000")
"""A year; no `includeSubDomains`: other hosts of the organiser's domain are not this server's to
decide for."""


def strict_transport(app: ASGIApp) -> ASGIApp:
    """`app`, its answers to https requests carrying `Strict-Transport-Security`."""

    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope.get("scheme") != "https":
            await app(scope, receive, send)
            return

        async def send_with_hsts(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), HSTS_HEADER]
            await send(message)

        await app(scope, receive, send_with_hsts)

    return serve
