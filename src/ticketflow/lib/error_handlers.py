"""One error body for the whole API: `{"status_code", "detail", "extra"}`, never a stack trace."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any, Self

import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.status_codes import (
    HTTP_401_UNAUTHORIZED,
    HTTP_403_FORBIDDEN,
    HTTP_404_NOT_FOUND,
    HTTP_409_CONFLICT,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_429_TOO_MANY_REQUESTS,
    HTTP_500_INTERNAL_SERVER_ERROR,
    HTTP_503_SERVICE_UNAVAILABLE,
)

from ticketflow.db.driver import DeadlockedEveryAttempt
from ticketflow.lib import errors

logger = logging.getLogger("ticketflow.errors")

STATUS_BY_ERROR: tuple[tuple[type[errors.DomainError], int], ...] = (
    (errors.NotFoundError, HTTP_404_NOT_FOUND),
    (errors.ConflictError, HTTP_409_CONFLICT),
    (errors.RuleViolation, HTTP_422_UNPROCESSABLE_ENTITY),
    (errors.PermissionDenied, HTTP_403_FORBIDDEN),
    (errors.AuthenticationFailed, HTTP_401_UNAUTHORIZED),
    (errors.TooManyAttempts, HTTP_429_TOO_MANY_REQUESTS),
    (errors.ServiceUnavailable, HTTP_503_SERVICE_UNAVAILABLE),
)


class ErrorBody(msgspec.Struct):
    """The body of every error response."""

    status_code: int
    detail: str
    extra: dict[str, Any] | list[Any]


Documented = tuple[int, str]
"""A status code and what it means on a route, for `error_responses`."""
BUSY: Documented = (
    503,
    "the database rolled the request's transaction back to break a deadlock on each of the"
    " server's attempts; nothing of it was kept: send it again (`Retry-After`)",
)
BAD_INPUT: Documented = (400, "malformed or invalid body or parameter (each problem listed in `extra`)")
NO_TOKEN: Documented = (401, "no bearer token, or an invalid, expired or revoked one")
NOT_JSON: Documented = (415, "the body must be sent as application/json")
TOO_LARGE: Documented = (413, "the body is larger than the server accepts (1 MiB)")
JSON_BODY_ERRORS: tuple[Documented, ...] = (BAD_INPUT, TOO_LARGE, NOT_JSON)
"""What every route that takes a JSON body may answer before it looks at the body's meaning."""


class DocumentedResponse(ResponseSpec):
    """A documented answer, never changed once declared: every copy of a route shares it.

    Litestar deep-copies a controller's routes for each application it builds; these entries,
    with their example bodies, were the largest part of those copies.
    """

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        return self


def error_responses(*documented: Documented) -> dict[int, ResponseSpec]:
    """OpenAPI entries for the errors a route answers with, each with an example body."""
    return {
        status: DocumentedResponse(
            data_container=ErrorBody,
            description=meaning,
            generate_examples=False,
            examples=[
                Example(
                    summary=HTTPStatus(status).phrase,
                    value={"status_code": status, "detail": meaning, "extra": {}},
                )
            ],
        )
        for status, meaning in documented
    }


def error_response(
    status_code: int, detail: str, extra: Any = None, headers: dict[str, str] | None = None
) -> Response[dict[str, Any]]:
    """The single error body format of the API."""
    return Response(
        content={"status_code": status_code, "detail": detail, "extra": extra if extra else {}},
        status_code=status_code,
        media_type=MediaType.JSON,
        headers=headers,
    )


def status_for(error: errors.DomainError) -> int:
    for family, status in STATUS_BY_ERROR:
        if isinstance(error, family):
            return status
    return HTTP_422_UNPROCESSABLE_ENTITY


def domain_error_handler(_: Request[Any, Any, Any], exc: errors.DomainError) -> Response[dict[str, Any]]:
    headers = None
    if isinstance(exc, errors.TooManyAttempts):
        headers = {"Retry-After": str(exc.retry_after)}
    return error_response(status_for(exc), exc.detail, exc.extra, headers)


def http_exception_handler(_: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    extra = exc.extra if exc.extra else {}
    return error_response(exc.status_code, exc.detail, extra, exc.headers)


def busy_handler(request: Request[Any, Any, Any], exc: DeadlockedEveryAttempt) -> Response[dict[str, Any]]:
    """`BUSY`: a transaction run again while it was a deadlock's victim, on its every attempt."""
    logger.warning("%s on %s %s", exc, request.method, request.url.path, exc_info=exc.__cause__)
    busy = "the database is busy: send the request again"
    return error_response(HTTP_503_SERVICE_UNAVAILABLE, busy, headers={"Retry-After": "1"})


def unexpected_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(HTTP_500_INTERNAL_SERVER_ERROR, "internal server error")


EXCEPTION_HANDLERS: dict[type[Exception] | int, Any] = {
    errors.DomainError: domain_error_handler,
    HTTPException: http_exception_handler,
    DeadlockedEveryAttempt: busy_handler,
    Exception: unexpected_error_handler,
}
