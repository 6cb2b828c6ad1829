"""`OPTIONS` answers with every method of the path, in `Allow`.

Litestar adds an `OPTIONS` handler to each path when its first handler is registered and keeps
that handler when more handlers join the path, so its `Allow` header lists only the methods of
the first one (`OPTIONS /events` said `OPTIONS, POST` although `GET /events` exists). This
`before_request` hook answers `OPTIONS` itself from the route table, with no guard or body
involved. The `405` answers of the router are built from the table already and are right.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.routes import HTTPRoute
from litestar.status_codes import HTTP_204_NO_CONTENT


def methods_of(request: Request[Any, Any, Any]) -> list[str]:
    template = request.scope.get("path_template", "")
    for route in request.app.routes:
        if isinstance(route, HTTPRoute) and route.path_format == template:
            return sorted(route.methods)
    return ["OPTIONS"]


def answer_options(request: Request[Any, Any, Any]) -> Response[None] | None:
    """`before_request` hook: `OPTIONS` gets 204 with the path's methods; other methods go on."""
    if request.method != "OPTIONS":
        return None
    return Response(None, status_code=HTTP_204_NO_CONTENT, headers={"Allow": ", ".join(methods_of(request))})
