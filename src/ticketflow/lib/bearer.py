"""Bearer-token identity and role for the hot paths that authenticate on their own connection.

Door validation and purchase skip the authentication middleware (which would check out a second
connection to load the user) and instead read the caller's role with the first statement of
their transaction. The token is verified exactly as the middleware does it: HS256, the secret
from settings, expiry checked. A door scanner sends the same token with every scan, so a verified
token is remembered (its signature is checked once) and only its expiry is checked again.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.security.jwt import Token

from ticketflow.db.base import utc_now
from ticketflow.db.driver import DriverConnection
from ticketflow.lib.errors import AuthenticationFailed, PermissionDenied
from ticketflow.settings import Settings

JWT_ALGORITHM = "HS256"
VERIFIED_TOKENS_KEPT = 4096


def bearer_subject(connection: ASGIConnection[Any, Any, Any, Any], settings: Settings) -> int:
    """The user id in the request's bearer token; 401 when missing, malformed, forged or expired."""
    header = connection.headers.get("Authorization")
    if not header:
        raise NotAuthorizedException("No JWT token found in request header")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "bearer" or not encoded.strip():
        raise NotAuthorizedException("malformed Authorization header")
    subject, expires = _verified(encoded.strip(), settings.jwt_secret)
    if expires <= utc_now():
        raise NotAuthorizedException("Token has expired")
    return subject


@lru_cache(maxsize=VERIFIED_TOKENS_KEPT)
def _verified(encoded: str, secret: str) -> tuple[int, dt.datetime]:
    """The subject and expiry of a token whose signature and claims check out (refusals are
    raised, so never remembered)."""
    token = Token.decode(encoded, secret=secret, algorithm=JWT_ALGORITHM)
    try:
        return int(token.sub), token.exp
    except ValueError as exc:
        raise NotAuthorizedException("invalid token subject") from exc


SELECT_ROLE = "SELECT role FROM users WHERE id = %s"


async def require_role(
    connection: DriverConnection, user_id: int, roles: frozenset[str], statement: str = SELECT_ROLE
) -> tuple[Any, ...]:
    """Check the caller's role as it is now in the database (a demoted user is refused at once).

    `statement` reads the role first and may read more of the user; returns its row.
    """
    row = await connection.fetchone(statement, (user_id,))
    if row is None:
        raise AuthenticationFailed("unknown user")
    if row[0] not in roles:
        raise PermissionDenied("your role does not allow this")
    return row
