"""JWT authentication: tokens carry only the user id; the role is read from the database."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.security.jwt import OAuth2PasswordBearerAuth, Token

from ticketflow.db.models.users import Role, User
from ticketflow.lib.access import ACCESS_OPT_KEY
from ticketflow.lib.bearer import JWT_ALGORITHM, bearer_subject
from ticketflow.lib.state import STATE_KEY, AppContext
from ticketflow.settings import Settings

MAX_USER_ID = 2**62


async def load_user(token: Token, connection: ASGIConnection[Any, Any, Any, Any]) -> User | None:
    """The token's user as it is now in the database (a deleted user gets None, so 401)."""
    try:
        user_id = int(token.sub)
    except ValueError:
        return None
    return await user_by_id(user_id, connection)


async def user_by_id(user_id: int, connection: ASGIConnection[Any, Any, Any, Any]) -> User | None:
    if not 1 <= user_id <= MAX_USER_ID:  # a number no column holds (SQLite would overflow)
        return None
    context: AppContext = connection.app.state[STATE_KEY]
    async with context.session_maker() as session:
        user = await session.get(User, user_id)
        if user is not None:
            session.expunge(user)
        return user


def build_jwt_auth(settings: Settings) -> OAuth2PasswordBearerAuth[User, Token]:
    return OAuth2PasswordBearerAuth[User, Token](
        retrieve_user_handler=load_user,
        token_secret=settings.jwt_secret,
        token_url="/login",
        algorithm=JWT_ALGORITHM,
        default_token_expiration=dt.timedelta(seconds=settings.jwt_ttl_seconds),
        exclude_opt_key=ACCESS_OPT_KEY,
        exclude=["^/admin", "^/docs", "^/schema"],  # our own public routes carry PUBLIC_ROUTE
        description="Bearer token from `POST /login` (Swagger's Authorize dialog uses the form).",
        openapi_security_scheme_name="BearerToken",
    )


async def optional_user(connection: ASGIConnection[Any, Any, Any, Any], settings: Settings) -> User | None:
    """The caller on a public route: None without a token, 401 for a bad one."""
    if not connection.headers.get("Authorization"):
        return None
    user = await user_by_id(bearer_subject(connection, settings), connection)
    if user is None:
        raise NotAuthorizedException("unknown user")
    return user


def _require(connection: ASGIConnection[Any, Any, Any, Any], roles: frozenset[str]) -> None:
    user = connection.scope.get("user")  # absent where the middleware does not run (OPTIONS)
    if not isinstance(user, User):
        raise NotAuthorizedException
    if user.role not in roles:
        raise PermissionDeniedException("your role does not allow this")


def admin_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    _require(connection, frozenset({Role.ADMIN}))


def buyer(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Attendees and admins buy tickets; door staff do not."""
    _require(connection, frozenset({Role.ADMIN, Role.ATTENDEE}))


def any_role(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    _require(connection, frozenset({Role.ADMIN, Role.ATTENDEE, Role.STAFF}))
