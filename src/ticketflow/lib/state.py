"""Objects the application builds once and shares through `app.state`."""

from __future__ import annotations

from dataclasses import dataclass

from litestar.datastructures import State
from litestar.stores.base import Store

from ticketflow.lib.passwords import Passwords
from ticketflow.lib.ratelimit import AttemptLimiter
from ticketflow.settings import Settings

STATE_KEY = "ticketflow"


@dataclass(slots=True)
class AppContext:
    """What request handlers and services need besides a database session."""

    settings: Settings
    passwords: Passwords
    store: Store
    login_client_limiter: AttemptLimiter
    login_account_limiter: AttemptLimiter

    @classmethod
    def build(cls, settings: Settings, store: Store) -> AppContext:
        return cls(
            settings=settings,
            passwords=Passwords(
                settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism
            ),
            store=store,
            login_client_limiter=AttemptLimiter(
                store, settings.login_max_attempts_per_client, settings.login_window_seconds, "login-client"
            ),
            login_account_limiter=AttemptLimiter(
                store, settings.login_max_attempts_per_account, settings.login_window_seconds, "login-account"
            ),
        )


def provide_context(state: State) -> AppContext:
    context: AppContext = state[STATE_KEY]
    return context


def provide_settings(state: State) -> Settings:
    return provide_context(state).settings
