"""The caller's role, checked as read in the transaction of the two fast paths.

Door validation and purchase do not let the authentication middleware load the caller (that
would check out a second connection); the middleware verifies the bearer token and the route's
service reads the caller's role as the first statement of its own transaction, then checks it here.
"""

from __future__ import annotations

from ticketflow.lib.errors import AuthenticationFailed, PermissionDenied
from ticketflow.lib.i18n import N_


def check_role(role: str | None, roles: frozenset[str]) -> None:
    """Refuse a caller whose role, as read now (None: no such user), is not one of `roles`."""
    if role is None:
        raise AuthenticationFailed(N_("unknown user"))
    if role not in roles:
        raise PermissionDenied(N_("your role does not allow this"))
