"""Authentication of every route: one middleware, bearer tokens only, the role from the database.

* Only `Authorization: Bearer <token>` authenticates (the scheme in any case, RFC 9110). Another
  scheme, a cookie or a token in the query string is not read: the route answers 401.
* A route is public only when its handler carries `PUBLIC_ROUTE` (`ticketflow.lib.access`);
  `TOKEN_OPTIONAL_ROUTE` routes read a token when one is sent (a bad one is 401, not anonymous).
* A token's signature is checked once and remembered (a door scanner sends the same token with
  every scan); its expiry is checked on every request.
* A user token names its user by id, and ids come back (SQLite hands a deleted last row's id to the
  next account): a token issued before the account it names was created (its `iat`, in whole
  seconds, before `created_at` floored to the second) is a deleted user's, and is refused.
* The caller's role is read from the database on every request, so a demoted user is refused at
  once: here, by loading the user, for ordinary routes; by the first statement of their own
  transaction for the routes marked `ROLE_READ_IN_TRANSACTION_ROUTE` (door validation and purchase,
  which must not take a second connection).
* Each kind of token is a `TokenKind`: user tokens from `POST /login` today; another kind (a door
  scanner's, say) is one more entry in the middleware's list.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.security.jwt import Token
from litestar.types import ASGIApp, Receive, Scope, Send
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketflow.db.base import utc_now
from ticketflow.db.models.users import Role, User
from ticketflow.lib.access import (
    ACCESS_OPT_KEY,
    PUBLIC,
    ROLE_READ_IN_TRANSACTION,
    TOKEN_KINDS_OPT_KEY,
    TOKEN_OPTIONAL,
)
from ticketflow.settings import Settings

JWT_ALGORITHM = "HS256"
VERIFIED_TOKENS_KEPT = 4096
MAX_USER_ID = 2**62
USER_TOKEN = "user"


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a verified bearer token says: its kind, whom it names, until when, and since when
    (`issued`, whole seconds; None for kinds that do not say)."""

    kind: str
    subject: int
    expires: dt.datetime
    issued: dt.datetime | None = None


class TokenKind(Protocol):
    """One kind of bearer token the API accepts."""

    name: str

    def accepts(self, encoded: str) -> bool:
        """Whether `encoded` looks like a token of this kind (the first kind that accepts it
        verifies it)."""

    def verify(self, encoded: str) -> Credentials:
        """The token's credentials; `NotAuthorizedException` when forged, malformed or expired."""

    async def caller(self, credentials: Credentials) -> Any:
        """`request.user` of an ordinary route (read from the database now); None: 401."""


class UserTokens:
    """Tokens from `POST /login`: HS256 JWTs whose subject is the user id."""

    name = USER_TOKEN

    def __init__(self, settings: Settings, session_maker: async_sessionmaker[AsyncSession]) -> None:
        self.secret = settings.jwt_secret
        self.ttl = dt.timedelta(seconds=settings.jwt_ttl_seconds)
        self.session_maker = session_maker
        self._verified = lru_cache(maxsize=VERIFIED_TOKENS_KEPT)(self._decode)

    def issue(self, user_id: int) -> str:
        now = utc_now()
        return Token(sub=str(user_id), exp=now + self.ttl, iat=now).encode(self.secret, JWT_ALGORITHM)

    def accepts(self, encoded: str) -> bool:
        return True

    def verify(self, encoded: str) -> Credentials:
        credentials = self._verified(encoded)
        if credentials.expires <= utc_now():
            raise NotAuthorizedException("Token has expired")
        return credentials

    def _decode(self, encoded: str) -> Credentials:
        """Signature and claims checked (a refusal is raised, so never remembered)."""
        token = Token.decode(encoded, secret=self.secret, algorithm=JWT_ALGORITHM)
        try:
            subject = int(token.sub)
        except ValueError as exc:
            raise NotAuthorizedException("invalid token subject") from exc
        if not 1 <= subject <= MAX_USER_ID:  # a number no column holds (SQLite would overflow)
            raise NotAuthorizedException("invalid token subject")
        return Credentials(USER_TOKEN, subject, token.exp, issued=token.iat)

    async def caller(self, credentials: Credentials) -> User | None:
        """The user as it is now in the database; None (so 401) for a deleted user, and for a
        token issued before the account it names was created (a deleted user's whose id was
        given to a new account)."""
        async with self.session_maker() as session:
            user = await session.get(User, credentials.subject)
            if user is None or not issued_to(user, credentials):
                return None
            session.expunge(user)
            return user


def issued_to(user: User, credentials: Credentials) -> bool:
    """Whether the token was issued once `user` existed: `iat` holds whole seconds, so the account's
    creation is floored to the second (a login in the second of the sign-up is the user's)."""
    if credentials.issued is None:
        return False
    return credentials.issued >= user.created_at.replace(microsecond=0)


def bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; None without the header; 401 for
    any other form of it."""
    header = connection.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "bearer" or not encoded or " " in encoded:
        raise NotAuthorizedException("use Authorization: Bearer <token>")
    return encoded


class BearerAuthentication(AbstractAuthenticationMiddleware):
    """The one authentication of the API (see the module)."""

    def __init__(self, app: ASGIApp, kinds: Sequence[TokenKind]) -> None:
        super().__init__(app)
        self.kinds = kinds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = scope.get("route_handler")
        access = handler.opt.get(ACCESS_OPT_KEY) if handler is not None else None
        if scope["type"] == ScopeType.HTTP and scope.get("method") != "OPTIONS" and access != PUBLIC:
            result = await self.authenticate_request(ASGIConnection(scope))
            scope["user"] = result.user
            scope["auth"] = result.auth
        await self.app(scope, receive, send)

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        access = connection.route_handler.opt.get(ACCESS_OPT_KEY)
        encoded = bearer_token(connection)
        if encoded is None:
            if access == TOKEN_OPTIONAL:
                return AuthenticationResult(user=None, auth=None)
            raise NotAuthorizedException("No JWT token found in request header")
        kind = next((kind for kind in self.kinds if kind.accepts(encoded)), None)
        if kind is None:
            raise NotAuthorizedException("unknown kind of token")
        credentials = kind.verify(encoded)
        if kind.name != USER_TOKEN and kind.name not in connection.route_handler.opt.get(
            TOKEN_KINDS_OPT_KEY, ()
        ):
            raise NotAuthorizedException("this token may not call this route")
        if access == ROLE_READ_IN_TRANSACTION:
            return AuthenticationResult(user=None, auth=credentials)
        user = await kind.caller(credentials)
        if user is None:
            raise NotAuthorizedException("unknown user")
        return AuthenticationResult(user=user, auth=credentials)


def _require(connection: ASGIConnection[Any, Any, Any, Any], roles: frozenset[str]) -> None:
    user = connection.scope.get("user")
    if not isinstance(user, User):
        raise NotAuthorizedException
    if user.role not in roles:
        raise PermissionDeniedException("your role does not allow this")


def admin_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    _require(connection, frozenset({Role.ADMIN}))


def staff_or_admin(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    _require(connection, frozenset({Role.ADMIN, Role.STAFF}))


def buyer(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Attendees and admins buy tickets; door staff do not."""
    _require(connection, frozenset({Role.ADMIN, Role.ATTENDEE}))


def any_role(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    _require(connection, frozenset({Role.ADMIN, Role.ATTENDEE, Role.STAFF}))
