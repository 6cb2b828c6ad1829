"""Request media types: a JSON endpoint refuses a body it was not told is JSON (415)."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.exceptions import HTTPException
from litestar.status_codes import HTTP_415_UNSUPPORTED_MEDIA_TYPE

JSON_MEDIA_TYPE = "application/json"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def media_type(request: Request[Any, Any, Any]) -> str:
    """The request's media type, lower-case and without parameters (`charset=...`)."""
    return request.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()


def is_json(value: str) -> bool:
    return value == JSON_MEDIA_TYPE or (value.startswith("application/") and value.endswith("+json"))


def unsupported_media_type(expected: str) -> HTTPException:
    return HTTPException(
        status_code=HTTP_415_UNSUPPORTED_MEDIA_TYPE,
        detail=f"send the body as {expected}",
        extra={"expected": expected},
    )


async def require_json_body(request: Request[Any, Any, Any]) -> None:
    """`before_request` hook: a body sent as text, form or XML is refused before it is parsed."""
    if request.method in BODY_METHODS and not is_json(media_type(request)):
        raise unsupported_media_type(JSON_MEDIA_TYPE)
