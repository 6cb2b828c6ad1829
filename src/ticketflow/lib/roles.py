"""The caller's role, read on a driver connection by the two fast paths.

Door validation and purchase do not let the authentication middleware load the caller (that
would check out a second connection); the middleware verifies the bearer token and the route's
service reads the caller's role as the first statement of its own transaction.
"""

from __future__ import annotations

from typing import Any

from ticketflow.db.driver import DriverConnection
from ticketflow.lib.errors import AuthenticationFailed, PermissionDenied

SELECT_ROLE = "SELECT role FROM users WHERE id = %s"


def check_role(role: str | None, roles: frozenset[str]) -> None:
    """Refuse a caller whose role, as read now (None: no such user), is not one of `roles`."""
    if role is None:
        raise AuthenticationFailed("unknown user")
    if role not in roles:
        raise PermissionDenied("your role does not allow this")


async def require_role(
    connection: DriverConnection, user_id: int, roles: frozenset[str], statement: str = SELECT_ROLE
) -> tuple[Any, ...]:
    """Check the caller's role as it is now in the database (a demoted user is refused at once).

    `statement` reads the role first and may read more of the user; returns its row.
    """
    row = await connection.fetchone(statement, (user_id,))
    check_role(None if row is None else row[0], roles)
    assert row is not None  # noqa: S101 - check_role refused an unknown user
    return row
