"""How the accounts context plugs into the app: sign-up, login and users, and the one
authentication middleware of every route."""

from __future__ import annotations

from litestar.config.app import AppConfig
from litestar.di import Provide
from litestar.middleware import DefineMiddleware

from ticketflow.domain.accounts.auth import BearerAuthentication, TokenKind, UserTokens
from ticketflow.domain.accounts.controller import AccountController
from ticketflow.lib.plugins import ContextPlugin
from ticketflow.lib.state import AppContext


class AccountsPlugin(ContextPlugin):
    def __init__(self, context: AppContext) -> None:
        self.user_tokens = UserTokens(context.settings, context.session_maker)
        self.token_kinds: list[TokenKind] = [self.user_tokens]
        """Every kind of bearer token the API accepts, the first that accepts a token verifies it."""

    def provide_user_tokens(self) -> UserTokens:
        return self.user_tokens

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.route_handlers.append(AccountController)
        app_config.dependencies["user_tokens"] = Provide(self.provide_user_tokens, sync_to_thread=False)
        app_config.middleware.insert(0, DefineMiddleware(BearerAuthentication, kinds=self.token_kinds))
        return app_config
