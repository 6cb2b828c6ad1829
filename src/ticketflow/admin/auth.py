"""Back office login: admin accounts of the users table, in a signed session cookie.

Door staff may sign in too, for the door desk only: every other page is the admins' (each view
says who may open it, see `may_open`).

The cookie (signed with `SESSION_SECRET`, `HttpOnly`, `SameSite=Lax`, `Secure` in production,
path `/admin`) carries the user id, the time of the login and a key derived from the password hash
and the time the account last changed. Starlette signs the cookie again on every answer, so its
`Max-Age` slides while the back office is in use: the login's own time ends the session,
`SESSION_TTL_SECONDS` after it, however busy the admin is. Every request reloads the user, so a
demoted or deleted admin, or one whose password changed, is out at once. Logging out marks the
account changed, so the cookie of that session - and of every other back office session of the
same admin - no longer works, on every server process, even when someone kept a copy of it.
Login attempts share the counters of `POST /login`, so the two doors together allow no more
guesses than one.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from sqladmin.authentication import AuthenticationBackend
from sqladmin.templating import Jinja2Templates
from sqlalchemy import update
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ticketflow.db.base import utc_now
from ticketflow.db.models.users import EMAIL_MAX, Role, User
from ticketflow.domain.accounts.schemas import PASSWORD_MAX
from ticketflow.domain.accounts.service import AccountService
from ticketflow.lib.errors import InvalidCredentials, TooManyAttempts
from ticketflow.lib.i18n import as_language, current_language, current_locale, gettext_for
from ticketflow.lib.ratelimit import client_address
from ticketflow.lib.state import AppContext

SESSION_COOKIE = "ticketflow_admin"
ADMIN_PATH = "/admin"
LOGIN_TEMPLATE = "sqladmin/login.html"
SESSION_TTL_SECONDS = 8 * 3600
"""A back office login lasts one working day, counted from the login."""
BACK_OFFICE_ROLES = frozenset({Role.ADMIN, Role.STAFF})
"""Who may sign in: admins everywhere, door staff to the door desk."""


def signed_in(request: Request) -> User:
    """The account of the request, set by `AdminAuthentication.authenticate`."""
    user: User = request.state.admin
    return user


def is_admin(request: Request) -> bool:
    """The reader is an admin (not door staff): the test of every page but the door desk."""
    user = getattr(request.state, "admin", None)
    return user is not None and user.role == Role.ADMIN


def session_key(user: User, secret: str) -> str:
    """Changes when the password or anything else of the account changes (a logout too); reveals
    nothing about the hash."""
    state = f"{user.password_hash}|{user.updated_at.isoformat()}|{user.role}"
    return hmac.new(secret.encode(), state.encode(), hashlib.sha256).hexdigest()[:32]


def login_still_valid(since: object) -> bool:
    """The login (a POSIX time in the session) was less than `SESSION_TTL_SECONDS` ago."""
    if not isinstance(since, int) or isinstance(since, bool):
        return False
    age = utc_now().timestamp() - since
    return age < SESSION_TTL_SECONDS


class AdminAuthentication(AuthenticationBackend):
    def __init__(self, context: AppContext) -> None:
        settings = context.settings
        super().__init__(
            secret_key=settings.session_secret,
            session_cookie=SESSION_COOKIE,
            max_age=SESSION_TTL_SECONDS,
            path=ADMIN_PATH,
            same_site="lax",
            https_only=settings.is_production,
        )
        self.context = context
        self.templates: Jinja2Templates | None = None
        """Set by the back office once built, to answer refused logins with the login page."""

    async def login(self, request: Request) -> Response | bool:
        form = await request.form()
        email, password = form.get("username"), form.get("password")
        if not isinstance(email, str) or not isinstance(password, str):
            return False
        if not email.strip() or not password or len(email) > EMAIL_MAX or len(password) > PASSWORD_MAX:
            return False
        context = self.context
        client = client_address(request)
        async with context.session_maker() as session:
            try:
                user = await AccountService(session, context.passwords).authenticate(
                    email,
                    password,
                    client_limiter=context.login_client_limiter,
                    client=client,
                    account_limiter=context.login_account_limiter,
                )
            except InvalidCredentials:
                return False
            except TooManyAttempts as exc:
                _ = gettext_for(current_language())
                text = _("Too many attempts. Try again in %(seconds)s seconds.") % {
                    "seconds": exc.retry_after
                }
                response = await self._login_page(request, text, 429)
                response.headers["Retry-After"] = str(exc.retry_after)
                return response
        if user.role not in BACK_OFFICE_ROLES:
            _ = gettext_for(current_language())
            return await self._login_page(
                request, _("Only administrators, and door staff for the door desk, can sign in here."), 403
            )
        request.session.clear()
        request.session.update(
            {
                "user_id": user.id,
                "key": session_key(user, context.settings.session_secret),
                "since": int(utc_now().timestamp()),
            }
        )
        return True

    async def logout(self, request: Request) -> Response | bool:
        user = await self.current_admin(request)
        if user is not None:  # every cookie issued before now stops working
            async with self.context.session_maker() as session:
                await session.execute(update(User).where(User.id == user.id).values(updated_at=utc_now()))
                await session.commit()
        request.session.clear()
        return RedirectResponse(request.url_for("admin:login"), status_code=302)

    async def authenticate(self, request: Request) -> Response | bool:
        user = await self.current_admin(request)
        if user is None:
            request.session.clear()
            return False
        request.state.admin = user
        current_locale.set(as_language(user.locale))  # the back office speaks the admin's language
        return True

    async def current_admin(self, request: Request) -> User | None:
        user_id, key = request.session.get("user_id"), request.session.get("key")
        if not isinstance(user_id, int) or not isinstance(key, str):
            return None
        if not login_still_valid(request.session.get("since")):
            return None
        async with self.context.session_maker() as session:
            user = await session.get(User, user_id)
        if user is None or user.role not in BACK_OFFICE_ROLES:
            return None
        if not hmac.compare_digest(key, session_key(user, self.context.settings.session_secret)):
            return None
        return user

    async def _login_page(self, request: Request, error: str, status_code: int) -> Response:
        if self.templates is None:  # pragma: no cover - set when the back office is built
            return Response(error, status_code=status_code, media_type="text/plain")
        context: dict[str, Any] = {"error": error}
        return await self.templates.TemplateResponse(
            request, LOGIN_TEMPLATE, context, status_code=status_code
        )
