"""The OpenAPI document's settings and the Swagger UI, served from the app's own files.

The document at `/docs/openapi.json` is a contract clients are generated from: every operation
has a stable camelCase `operationId` (set on its route; a route without one gets its handler's
name in camelCase), and the security schemes are the two of `lib/api_docs.py` whatever the
authentication backend would declare itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, Contact, OpenAPI, Tag

from ticketflow.lib.api_docs import BEARER, SECURITY_SCHEMES

if TYPE_CHECKING:
    from litestar.handlers import HTTPRouteHandler
    from litestar.types import Method
    from litestar.types.internal_types import PathParameterDefinition

API_DESCRIPTION = """
Ticket-Flow sells event tickets and checks them at the door.

* **Attendees** sign up (`POST /register`), log in (`POST /login`), buy tickets and show the QR code.
* **Door staff** scan codes: `POST /tickets/{qr_code}/validate` answers `valid`, `already_used` or
  `invalid`, atomically, and records every scan.
* **Admins** publish events, see every ticket, create staff accounts.

Use **Authorize** with your e-mail as user name to call protected endpoints from this page.
Clients call protected endpoints with `Authorization: Bearer <access_token>`.
"""


def swagger_assets_directory() -> Path:
    import swagger_ui  # noqa: PLC0415 - only its folder is needed

    return Path(swagger_ui.__file__).parent / "static"


def camel_case_operation_id(
    route_handler: HTTPRouteHandler, http_method: Method, path_components: list[str | PathParameterDefinition]
) -> str:
    """The operationId of a route that sets none: its handler's name in camelCase."""
    first, *rest = route_handler.handler_name.split("_")
    return first + "".join(word.title() for word in rest)


@dataclass
class ContractConfig(OpenAPIConfig):
    """The document's security: one bearer scheme for the API, whatever the auth backend says."""

    def to_openapi_schema(self) -> OpenAPI:
        document = super().to_openapi_schema()
        document.security = list(BEARER)
        document.components.security_schemes = dict(SECURITY_SCHEMES)
        return document


def build_openapi_config() -> OpenAPIConfig:
    return ContractConfig(
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
        operation_id_creator=camel_case_operation_id,
    )
