"""Objects the application builds once and shares through `app.state`."""

from __future__ import annotations

from typing import Self

from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ticketflow.db.driver_pool import DriverPool, create_driver_pool
from ticketflow.lib.passwords import Passwords
from ticketflow.lib.ratelimit import AttemptLimiter, LimitStore
from ticketflow.lib.signed_codes import TicketSigner
from ticketflow.settings import Settings

STATE_KEY = "ticketflow"


class AppContext:
    """What request handlers and services need besides a database session: the shared pieces
    every context uses. What one context offers the others (the notifier, the payments hooks)
    is offered by that context's plugin, as a dependency of the routes that need it.

    A plain class, not a dataclass: Litestar checks a dependency's value against its declared
    type, and takes an instance of a subclass (the application's, see `ticketflow.plugins`) for
    a plain class only.
    """

    __slots__ = (
        "drivers",
        "engine",
        "login_account_limiter",
        "login_client_limiter",
        "passwords",
        "register_limiter",
        "session_maker",
        "settings",
        "store",
        "ticket_signer",
    )

    def __init__(
        self,
        *,
        settings: Settings,
        engine: AsyncEngine,
        drivers: DriverPool,
        session_maker: async_sessionmaker[AsyncSession],
        passwords: Passwords,
        store: LimitStore,
        login_client_limiter: AttemptLimiter,
        login_account_limiter: AttemptLimiter,
        register_limiter: AttemptLimiter,
        ticket_signer: TicketSigner,
    ) -> None:
        self.settings = settings
        self.engine = engine
        """The pool of the ORM and Core statements of every path but the two hot ones."""
        self.drivers = drivers
        """Driver connections for the hot paths (door validation, the start of a purchase)."""
        self.session_maker = session_maker
        """Sessions outside a request's own (authentication, background jobs)."""
        self.passwords = passwords
        self.store = store
        """Counters of every attempt limit (`build_limit_store`)."""
        self.login_client_limiter = login_client_limiter
        self.login_account_limiter = login_account_limiter
        """Keyed by account and client together: a stranger's failures never lock the owner out."""
        self.register_limiter = register_limiter
        self.ticket_signer = ticket_signer
        """Signs the `tf2.` code of every ticket issued and verifies them at the door."""

    @classmethod
    def build(cls, settings: Settings, engine: AsyncEngine, store: LimitStore) -> Self:
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
            ticket_signer=TicketSigner.from_settings(settings),
        )


def provide_context(state: State) -> AppContext:
    context: AppContext = state[STATE_KEY]
    return context
