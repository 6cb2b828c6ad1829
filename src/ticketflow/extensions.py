"""The points where each context plugs into the application.

`create_app` and the worker call these functions; each context fills in its own. Keeping them
here means adding a context never rewires `app.py`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from litestar.middleware import DefineMiddleware
from litestar.types import ASGIApp, ControllerRouterHandler
from sqlalchemy.ext.asyncio import AsyncEngine

from ticketflow.lib.ratelimit import build_limit_store
from ticketflow.lib.state import AppContext
from ticketflow.settings import Settings

BackgroundJob = Callable[[AppContext], Awaitable[int]]
"""One pass of a background job; returns how many items it processed (0 = idle)."""


@dataclass
class Extensions:
    route_handlers: list[ControllerRouterHandler] = field(default_factory=list)
    middleware: list[DefineMiddleware | Any] = field(default_factory=list)
    background_jobs: list[tuple[str, BackgroundJob]] = field(default_factory=list)
    outermost: list[Callable[[ASGIApp], ASGIApp]] = field(default_factory=list)
    """Wrappers of the whole application, outside its error handling (request ids, metrics)."""


def assemble(settings: Settings, engine: AsyncEngine) -> tuple[AppContext, Extensions]:
    """The application context with its notifier and payments, and every context's extensions.

    The API (`create_app`) and the worker (`ticketflow worker`) are built from the same pieces.
    """
    from ticketflow.domain.notifications.setup import build_notifier  # noqa: PLC0415
    from ticketflow.domain.payments.setup import build_payments  # noqa: PLC0415

    context = AppContext.build(settings, engine, build_limit_store(settings))
    context.notifier = build_notifier(context)
    context.payments = build_payments(context)
    return context, collect_extensions(context)


def collect_extensions(context: AppContext) -> Extensions:
    """Route handlers, middleware and background jobs contributed by the contexts."""
    from ticketflow.admin.mount import admin_extensions  # noqa: PLC0415
    from ticketflow.domain.notifications.setup import notification_extensions  # noqa: PLC0415
    from ticketflow.domain.payments.setup import payment_extensions  # noqa: PLC0415
    from ticketflow.lib.observability import observability_extensions  # noqa: PLC0415

    merged = Extensions()
    for contribute in (
        observability_extensions,
        notification_extensions,
        payment_extensions,
        admin_extensions,
    ):
        part = contribute(context)
        merged.route_handlers += part.route_handlers
        merged.middleware += part.middleware
        merged.background_jobs += part.background_jobs
        merged.outermost += part.outermost
    return merged
