"""Pieces of the OpenAPI document that routes share: security, id parameters, links.

The document is a contract that clients are generated from, so what it says must be exactly what
the server does: an id parameter states the range the server accepts, and a route that takes a
bearer token says so with the one `http` bearer scheme (the `oauth2` password flow next to it
only drives Swagger's Authorize dialog, which logs in through `POST /login`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.openapi.spec import (
    Example,
    Link,
    OAuthFlow,
    OAuthFlows,
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Schema,
    SecurityScheme,
)
from litestar.params import KwargDefinition, Parameter

BEARER_SCHEME = "BearerToken"
SWAGGER_LOGIN_SCHEME = "SwaggerLogin"
SECURITY_SCHEMES: dict[str, SecurityScheme] = {
    BEARER_SCHEME: SecurityScheme(
        type="http",
        scheme="bearer",
        bearer_format="JWT",
        description="`Authorization: Bearer <access_token>` with the token from `POST /login`.",
    ),
    SWAGGER_LOGIN_SCHEME: SecurityScheme(
        type="oauth2",
        description=(
            "The same bearer token, obtained by Swagger's Authorize dialog: user name = your e-mail."
        ),
        flows=OAuthFlows(password=OAuthFlow(token_url="/login", scopes={})),
    ),
}
BEARER: list[dict[str, list[str]]] = [{BEARER_SCHEME: []}, {SWAGGER_LOGIN_SCHEME: []}]
"""The security requirement of every route that takes a bearer token (either scheme)."""
PUBLIC: list[dict[str, list[str]]] = [{}]
"""The security requirement of a public route."""
OPTIONAL_BEARER: list[dict[str, list[str]]] = [{}, *BEARER]
"""The security requirement of a route that takes a bearer token when one is sent and answers
more with it (an admin's): none, or either scheme, so Swagger's Authorize sends the token."""

MAX_ID = 2**53 - 1
"""The largest id the API accepts: every id fits a 64-bit column and a JavaScript number, and the
bound is written exactly in the document (2^62 would read back as a rounded float)."""


def id_parameter(description: str, **extra: Any) -> KwargDefinition:
    """A positive id in a path or query: 1..MAX_ID, anything else is a 400."""
    parameter: KwargDefinition = Parameter(
        ge=1,
        le=MAX_ID,
        description=description,
        examples=[Example(value=1)],
        schema_extra={"format": "int64"},
        **extra,
    )
    return parameter


def links_on(status: int, **links: Link) -> type[Operation]:
    """An `operation_class` whose `status` response names the operations that can follow it."""

    @dataclass
    class LinkedOperation(Operation):
        def __post_init__(self) -> None:
            response = (self.responses or {}).get(str(status))
            if isinstance(response, OpenAPIResponse):
                response.links = dict(links)

    return LinkedOperation


def answer_content(content: dict[str, OpenAPIMediaType]) -> type[Operation]:
    """An `operation_class` whose 200 answer comes in each media type of `content` (Litestar
    declares one media type per answer: the one of the route)."""

    @dataclass
    class ContentOperation(Operation):
        def __post_init__(self) -> None:
            response = (self.responses or {}).get("200")
            if isinstance(response, OpenAPIResponse):
                response.content = dict(content)

    return ContentOperation


def binary_answer(media_type: str) -> type[Operation]:
    """An `operation_class` whose 200 answer is a file of `media_type` (a client gets bytes)."""
    schema = Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY, content_media_type=media_type)
    return answer_content({media_type: OpenAPIMediaType(schema=schema)})
