"""How the accounts context plugs into the app: sign-up, login and users, and the authentication
of every route."""

from __future__ import annotations

from litestar.config.app import AppConfig

from ticketflow.domain.accounts.auth import build_jwt_auth
from ticketflow.domain.accounts.controller import AccountController
from ticketflow.lib.plugins import ContextPlugin
from ticketflow.lib.state import AppContext


class AccountsPlugin(ContextPlugin):
    def __init__(self, context: AppContext) -> None:
        self.jwt_auth = build_jwt_auth(context.settings)

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.route_handlers.append(AccountController)
        app_config.state["jwt_auth"] = self.jwt_auth
        return self.jwt_auth.on_app_init(app_config)
