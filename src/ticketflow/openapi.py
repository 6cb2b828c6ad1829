"""The OpenAPI document's settings and the Swagger UI, served from the app's own files."""

from __future__ import annotations

from pathlib import Path

from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, Contact, Tag

API_DESCRIPTION = """
Ticket-Flow sells event tickets and checks them at the door.

* **Attendees** sign up (`POST /register`), log in (`POST /login`), buy tickets and show the QR code.
* **Door staff** scan codes: `POST /tickets/{qr_code}/validate` answers `valid`, `already_used` or
  `invalid`, atomically, and records every scan.
* **Admins** publish events, see every ticket, create staff accounts.

Use **Authorize** with your e-mail as user name to call protected endpoints from this page.
"""


def swagger_assets_directory() -> Path:
    import swagger_ui  # noqa: PLC0415 - only its folder is needed

    return Path(swagger_ui.__file__).parent / "static"


def build_openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Ticket-Flow API",
        version="0.1.0",
        description=API_DESCRIPTION,
        contact=Contact(name="Ticket-Flow"),
        path="/docs",
        tags=[
            Tag(name="Accounts", description="Sign-up, login, users and roles"),
            Tag(name="Events", description="Events and their seat inventory"),
            Tag(name="Tickets", description="Buying, listing, QR codes and cancelling tickets"),
            Tag(name="Door", description="Ticket validation at the entrance"),
            Tag(name="Payments", description="Checkout pages, landing pages and provider webhooks"),
            Tag(name="Notifications", description="Ticket e-mails and the outbox"),
            Tag(name="Stats", description="Sales and check-in figures (admin)"),
            Tag(name="Operations", description="Health, readiness and metrics"),
        ],
        render_plugins=[
            SwaggerRenderPlugin(
                path="/",
                js_url="/static/swagger/swagger-ui-bundle.js",
                css_url="/static/swagger/swagger-ui.css",
                standalone_preset_js_url="/static/swagger/swagger-ui-standalone-preset.js",
                favicon='<link rel="icon" type="image/png" href="/static/swagger/favicon-32x32.png">',
            )
        ],
        components=Components(),
    )
