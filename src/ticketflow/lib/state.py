"""Objects the application builds once and shares through `app.state`."""

from __future__ import annotations

from dataclasses import dataclass, field

from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ticketflow.db.driver_pool import DriverPool, create_driver_pool
from ticketflow.domain.notifications.notifier import Notifier, SilentNotifier
from ticketflow.domain.payments.hooks import NoPayments, Payments
from ticketflow.lib.passwords import Passwords
from ticketflow.lib.ratelimit import AttemptLimiter, LimitStore
from ticketflow.settings import Settings

STATE_KEY = "ticketflow"


@dataclass(slots=True)
class AppContext:
    """What request handlers and services need besides a database session."""

    settings: Settings
    engine: AsyncEngine
    """The pool of the ORM and Core statements of every path but the two hot ones."""
    drivers: DriverPool
    """Driver connections for the hot paths (door validation, the start of a purchase)."""
    session_maker: async_sessionmaker[AsyncSession]
    """Sessions outside a request's own (authentication, background jobs)."""
    passwords: Passwords
    store: LimitStore
    """Counters of every attempt limit (`build_limit_store`)."""
    login_client_limiter: AttemptLimiter
    login_account_limiter: AttemptLimiter
    """Keyed by account and client together: a stranger's failures never lock the owner out."""
    register_limiter: AttemptLimiter
    notifier: Notifier = field(default_factory=SilentNotifier)
    """Set by `create_app` from the notifications context."""
    payments: Payments = field(default_factory=NoPayments)
    """Set by `create_app` from the payments context."""

    @classmethod
    def build(cls, settings: Settings, engine: AsyncEngine, store: LimitStore) -> AppContext:
        return cls(
            settings=settings,
            engine=engine,
            drivers=create_driver_pool(engine, settings.database_hot_pool_size),
            session_maker=async_sessionmaker(engine, expire_on_commit=False),
            passwords=Passwords(
                settings.argon2_memory_kib,
                settings.argon2_time_cost,
                settings.argon2_parallelism,
                concurrency=settings.password_hash_concurrency,
            ),
            store=store,
            login_client_limiter=AttemptLimiter(
                store,
                settings.login_max_attempts_per_client,
                settings.login_window_seconds,
                "login-client",
            ),
            login_account_limiter=AttemptLimiter(
                store,
                settings.login_max_attempts_per_account,
                settings.login_window_seconds,
                "login-account",
            ),
            register_limiter=AttemptLimiter(
                store,
                settings.register_max_per_client,
                settings.register_window_seconds,
                "register-client",
            ),
        )


def provide_context(state: State) -> AppContext:
    context: AppContext = state[STATE_KEY]
    return context


def provide_settings(state: State) -> Settings:
    return provide_context(state).settings
