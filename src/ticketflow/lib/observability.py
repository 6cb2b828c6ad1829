"""The request wrapper of the whole application: request id, access line and request metrics.

It wraps the application (see `create_app`), outside Litestar's own error handling, so every
answer is counted, logged and carries `X-Request-ID`: unknown paths, wrong methods and the
authentication's 401s included, as well as the lines written while they are refused.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType

from ticketflow.lib.logs import access_path
from ticketflow.lib.metrics import UNMATCHED_ROUTE, HttpMetrics
from ticketflow.lib.request_ids import REQUEST_ID_HEADER, RequestIds, sane_request_id, serving

if TYPE_CHECKING:
    from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send

access_logger = logging.getLogger("ticketflow.access")


class RequestObservability:
    """Request id, access log line and request metrics for every HTTP request."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics
        self.request_ids = RequestIds()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        incoming = next(
            (value.decode("latin-1") for name, value in scope["headers"] if name == b"x-request-id"), None
        )
        request_id = sane_request_id(incoming) or self.request_ids.new()
        # Mounted apps (the back office) rewrite the scope's path: keep what the client asked for.
        method, path = str(scope.get("method", "GET")), scope["path"]
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableScopeHeaders.from_message(message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        with serving(request_id):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                self._record(scope, method, path, status, time.perf_counter() - started)

    def _record(self, scope: HTTPScope, method: str, path: str, status: int, seconds: float) -> None:
        route = scope.get("path_template") or UNMATCHED_ROUTE
        self.metrics.observe(method, route, status, seconds)
        client = scope.get("client")
        shown = access_path(scope, path)
        access_logger.info(
            "%s %s %s %.1f ms",
            method,
            shown,
            status,
            seconds * 1000,
            extra={
                "method": method,
                "path": shown,
                "route": route,
                "status": status,
                "duration_ms": round(seconds * 1000, 3),
                "client": client[0] if client else None,
            },
        )
