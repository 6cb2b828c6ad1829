"""JSON request bodies, checked strictly before Litestar parses them.

Litestar converts bodies leniently (`"100"` becomes `100`, a number becomes a date). A public API
should not guess: `require_json_body`, used as a route's `before_request` hook, refuses a body that
is not declared as JSON (415) and decodes it strictly against the route's `data` type, so a wrong
type is a 400 in the same shape as every other validation error.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from litestar import Request
from litestar.exceptions import HTTPException, ValidationException
from litestar.status_codes import HTTP_415_UNSUPPORTED_MEDIA_TYPE

JSON_MEDIA_TYPE = "application/json"
INVALID_BODY_STATUS = "invalid-body-status"
"""A route's `opt` key: the status of a well-formed JSON body that does not match the route's
`data` type (a field missing, mistyped or out of its bounds); 400 when not set. Malformed JSON is
always 400."""
INVALID_BODY_IS_422: dict[str, Any] = {INVALID_BODY_STATUS: 422}
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_LOCATION = re.compile(r" - at `\$\.?(?P<path>[^`]*)`$")


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


def validation_failure(
    request: Request[Any, Any, Any], error: msgspec.ValidationError
) -> ValidationException:
    """The error Litestar itself gives for an invalid body: one entry with message and key."""
    message = str(error)
    found = _LOCATION.search(message)
    key = found.group("path") if found else ""
    if found:
        message = message[: found.start()]
    return ValidationException(
        detail=f"Validation failed for {request.method} {request.url.path}",
        extra=[{"message": message, "key": key, "source": "body"}],
        status_code=request.route_handler.opt.get(INVALID_BODY_STATUS, 400),
    )


async def require_json_body(request: Request[Any, Any, Any]) -> None:
    """`before_request` hook: the body must be declared JSON and match the `data` type exactly.

    A route whose `data` has a default also takes no body at all. The strict decode is also what
    keeps a hostile body (an array nested a thousand deep) from reaching Litestar's own decoder:
    the first value of the wrong type ends it.
    """
    if request.method not in BODY_METHODS:
        return
    data = request.route_handler.parsed_fn_signature.parameters.get("data")
    body = await request.body()
    if not body and data is not None and data.has_default:
        return
    if not is_json(media_type(request)):
        raise unsupported_media_type(JSON_MEDIA_TYPE)
    if data is None:
        return
    try:
        msgspec.json.decode(body, type=data.annotation, strict=True)
    except msgspec.ValidationError as exc:
        raise validation_failure(request, exc) from exc
    except msgspec.DecodeError as exc:
        reason = str(exc).removeprefix("JSON is malformed: ")
        raise ValidationException(detail=f"JSON is malformed: {reason}") from exc
