"""The back office mount (SQLAdmin).

SQLAdmin is a Starlette application. It is mounted under `/admin` with a Litestar ASGI handler
around a `Starlette()` app. Litestar hands a mounted app the path without its prefix and with
a trailing slash added; SQLAdmin builds its URLs from the full path, and would redirect in a
loop, so the handler puts the original path back first.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, unquote

from litestar import asgi
from litestar.config.app import AppConfig
from litestar.types import Message, Receive, Scope, Send
from sqladmin import Admin, ModelView
from sqladmin.authentication import login_required
from starlette.applications import Starlette
from starlette.datastructures import URL, FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ticketflow.admin.auth import ADMIN_PATH, AdminAuthentication, is_admin
from ticketflow.admin.dashboard import DashboardView
from ticketflow.admin.display import money_text, percent
from ticketflow.admin.door import DOOR_VIEWS
from ticketflow.admin.operations import OPERATION_VIEWS
from ticketflow.admin.sales import SALES_VIEWS
from ticketflow.admin.same_origin import cross_site_reason
from ticketflow.admin.sqladmin_texts import SAVE_BUTTONS
from ticketflow.admin.views import RECORD_VIEWS
from ticketflow.domain.checkin.plugin import CheckInPlugin
from ticketflow.domain.notifications.plugin import NotificationsPlugin
from ticketflow.lib.access import PUBLIC_ROUTE
from ticketflow.lib.i18n import current_language, gettext_for, in_reader_language, install_i18n
from ticketflow.lib.plugins import ContextPlugin
from ticketflow.lib.state import AppContext

logger = logging.getLogger("ticketflow.admin")

TEMPLATES = Path(__file__).parent / "templates"
MAX_BODY_BYTES = 1_048_576
SECURITY_HEADERS = [
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline';"
        b" img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none';"
        b" form-action 'self'; base-uri 'self'",
    ),
]
FAVICON = (
    "data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'>"
    "<rect width='16' height='16' rx='3' fill='%23206bc4'/>"
    "<rect x='4' y='5' width='8' height='6' fill='white'/></svg>"
)
"""Inline, so the browser does not ask the API for /favicon.ico."""
CROSS_SITE_PAGE = (
    "<!doctype html><title>Refused</title><h1>Refused</h1>"
    "<p>This form was not sent from the back office itself. Open the back office and try again.</p>"
)
ERROR_PAGE = "<!doctype html><title>Error</title><h1>Something went wrong</h1><p>The error was logged.</p>"

V = TypeVar("V")


class BackOffice(Admin):
    """SQLAdmin with the dashboard as its home page."""

    @login_required
    async def index(self, request: Request) -> Response:
        home = "admin:view-dashboard" if is_admin(request) else "admin:view-door-desk"
        return RedirectResponse(request.url_for(home), status_code=302)

    @staticmethod
    def get_save_redirect_url(request: Request, form: FormData, model_view: ModelView, obj: Any) -> str | URL:
        """Where a save button leads. SQLAdmin knows its buttons by their English label, and the
        pressed one posts its label as shown: in the admin's language."""
        _ = gettext_for(current_language())
        english = {_(label): label for label in SAVE_BUTTONS}
        pressed = [
            (name, english.get(value, value) if name == "save" and isinstance(value, str) else value)
            for name, value in form.multi_items()
        ]
        return Admin.get_save_redirect_url(request, FormData(pressed), model_view, obj)


def in_admin_language(text: str) -> str:
    """A text from the catalogues in the admin's language, as plain text (escaped where shown;
    unlike the templates' `_()`, which marks its result safe and fills `%` placeholders)."""
    return gettext_for(current_language())(text)


def bound_to(
    view: type[V], context: AppContext, notifications: NotificationsPlugin, checkin: CheckInPlugin
) -> type[V]:
    """A subclass of `view` for one application: SQLAdmin keeps its state on view classes."""
    return type(
        view.__name__, (view,), {"context": context, "notifications": notifications, "checkin": checkin}
    )


def build_back_office(
    context: AppContext, notifications: NotificationsPlugin, checkin: CheckInPlugin
) -> Starlette:
    app = Starlette()
    authentication = AdminAuthentication(context)
    admin = BackOffice(
        app=app,
        session_maker=context.session_maker,
        base_url=ADMIN_PATH,
        title="Ticket-Flow",
        favicon_url=FAVICON,
        templates_dir=str(TEMPLATES),
        authentication_backend=authentication,
    )
    authentication.templates = admin.templates
    install_i18n(admin.templates.env, current_language)
    admin.templates.env.globals["page_language"] = current_language  # <html lang> (sqladmin/base.html)
    admin.templates.env.filters["in_admin_language"] = in_admin_language  # sqladmin/error.html
    admin.templates.env.filters["money"] = money_text
    admin.templates.env.filters["percent"] = percent
    admin.add_view(bound_to(DashboardView, context, notifications, checkin))
    for view in (*RECORD_VIEWS, *OPERATION_VIEWS):
        admin.add_view(bound_to(view, context, notifications, checkin))
    for page in (*SALES_VIEWS, *DOOR_VIEWS):
        admin.add_view(bound_to(page, context, notifications, checkin))
    return app


def original_path(scope: Scope) -> str:
    """The request path as the client sent it (Litestar strips `/admin` and adds a slash)."""
    raw = scope.get("raw_path")
    if raw:
        # Some servers and test clients include the query string in raw_path.
        return unquote(raw.decode("latin-1").split("?", 1)[0])
    return ADMIN_PATH + scope["path"]  # pragma: no cover - every server here sets raw_path


def declared_length(scope: Scope) -> int:
    """The Content-Length the client announced (0 without one, -1 when malformed)."""
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return -1
    return 0


def back_office_app(context: AppContext, notifications: NotificationsPlugin, checkin: CheckInPlugin) -> Any:
    """The ASGI app behind `/admin`: path restored, body size capped, security headers, no tracebacks,
    texts in the reader's language."""
    app = build_back_office(context, notifications, checkin)
    too_large = HTMLResponse("<h1>Request too large</h1>", status_code=413)
    cross_site = HTMLResponse(CROSS_SITE_PAGE, status_code=403)

    async def serve(scope: Scope, receive: Receive, send: Send) -> None:
        root_path = scope.get("root_path", "")
        path = original_path(scope)
        if root_path and path.startswith(root_path):
            path = path[len(root_path) :]
        scope["path"] = root_path + path
        scope["raw_path"] = quote(root_path + path).encode()
        if not 0 <= declared_length(scope) <= MAX_BODY_BYTES:
            await too_large(scope, receive, send)  # type: ignore[arg-type]
            return
        refusal = cross_site_reason(scope)
        if refusal is not None:
            logger.warning("back office refused %s %s: %s", scope.get("method"), path, refusal)
            await cross_site(scope, receive, send)  # type: ignore[arg-type]
            return
        received = 0
        started = refused = False

        async def limited_receive() -> Any:
            """Stops a body without a length at the cap: answers 413, tells the app the client left."""
            nonlocal received, started, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > MAX_BODY_BYTES:
                    if not started:
                        started = refused = True
                        await too_large(scope, receive, send)  # type: ignore[arg-type]
                    return {"type": "http.disconnect"}
            return message

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if refused:
                return
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        try:
            await app(scope, limited_receive, send_with_headers)  # type: ignore[arg-type]
        except Exception:
            if refused:
                return
            logger.exception("back office error on %s", path)
            if not started:
                await HTMLResponse(ERROR_PAGE, status_code=500)(scope, receive, send)  # type: ignore[arg-type]

    return in_reader_language(serve)


class AdminPlugin(ContextPlugin):
    """Mounts the back office under `/admin` (it has its own session login).

    The SQLAdmin application (its views, templates and routes: about a tenth of building the whole
    application) is built by the first request under `/admin`, so an application that never
    serves the back office never builds it, and every application starts sooner.
    """

    def __init__(
        self, context: AppContext, notifications: NotificationsPlugin, checkin: CheckInPlugin
    ) -> None:
        self.context = context
        self.notifications = notifications
        self.checkin = checkin
        """The door's plugin: the desk scans with the process's gate rules (`checkin.gate_rules`)."""
        self.serve: Any = None
        """The back office's ASGI app once a request has needed it (`back_office_app`)."""

    def back_office(self) -> Any:
        """The back office's ASGI app, built on first use (synchronously: built once)."""
        if self.serve is None:
            self.serve = back_office_app(self.context, self.notifications, self.checkin)
        return self.serve

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        @asgi(ADMIN_PATH, is_mount=True, copy_scope=True, opt=PUBLIC_ROUTE, include_in_schema=False)
        async def back_office(scope: Scope, receive: Receive, send: Send) -> None:
            await self.back_office()(scope, receive, send)

        app_config.route_handlers.append(back_office)
        return app_config
