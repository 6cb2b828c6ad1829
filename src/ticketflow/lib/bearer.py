"""Bearer-token identity and role for the hot paths that authenticate on their own connection.

Door validation and purchase skip the authentication middleware (which would check out a second
connection to load the user) and instead read the caller's role with the first statement of
their transaction. The token is verified exactly as the middleware does it: HS256, the secret
from settings, expiry checked.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.security.jwt import Token

from ticketflow.db.driver import DriverConnection
from ticketflow.lib.errors import AuthenticationFailed, PermissionDenied
from ticketflow.settings import Settings

JWT_ALGORITHM = "HS256"


def bearer_subject(connection: ASGIConnection[Any, Any, Any, Any], settings: Settings) -> int:
    """The user id in the request's bearer token; 401 when missing, malformed, forged or expired."""
    header = connection.headers.get("Authorization")
    if not header:
        raise NotAuthorizedException("No JWT token found in request header")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "bearer" or not encoded.strip():
        raise NotAuthorizedException("malformed Authorization header")
    token = Token.decode(encoded.strip(), secret=settings.jwt_secret, algorithm=JWT_ALGORITHM)
    try:
        return int(token.sub)
    except ValueError as exc:
        raise NotAuthorizedException("invalid token subject") from exc


SELECT_ROLE = "SELECT role FROM users WHERE id = %s"


async def require_role(connection: DriverConnection, user_id: int, roles: frozenset[str]) -> None:
    """Check the caller's role as it is now in the database (a demoted user is refused at once)."""
    row = await connection.fetchone(SELECT_ROLE, (user_id,))
    if row is None:
        raise AuthenticationFailed("unknown user")
    if row[0] not in roles:
        raise PermissionDenied("your role does not allow this")
