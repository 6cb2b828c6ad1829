"""Application factory: `create_app(settings)` assembles plugins, routes and error handling."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from advanced_alchemy.extensions.litestar import SQLAlchemyPlugin
from litestar import Litestar, Router
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.static_files import create_static_files_router
from sqlalchemy.ext.asyncio import AsyncEngine

import ticketflow.db.models  # noqa: F401 - registers every table
from ticketflow.db.config import build_alchemy_config, create_engine
from ticketflow.db.migrate import upgrade_to_head
from ticketflow.lib.access import PUBLIC_ROUTE
from ticketflow.lib.error_handlers import EXCEPTION_HANDLERS
from ticketflow.lib.logs import build_logging_config
from ticketflow.lib.observability import RequestObservability
from ticketflow.lib.options import answer_options
from ticketflow.lib.state import STATE_KEY, provide_context
from ticketflow.lib.transport_security import strict_transport
from ticketflow.openapi import ClosedStructSchemaPlugin, build_openapi_config, swagger_assets_directory
from ticketflow.plugins import assemble
from ticketflow.settings import Settings
from ticketflow.worker import run_worker

logger = logging.getLogger("ticketflow")


def public_documentation(config: OpenAPIConfig) -> OpenAPIConfig:
    """The schema and Swagger UI are served by a router marked public, like every public route."""
    config.openapi_router = Router(
        path=config.path or "/schema",
        route_handlers=[],
        include_in_schema=False,
        dto=None,
        return_dto=None,
        opt=PUBLIC_ROUTE,
    )
    return config


def create_app(settings: Settings) -> Litestar:
    """Build the application for `settings`. Nothing happens at import time."""
    engine: AsyncEngine = create_engine(settings)
    alchemy = build_alchemy_config(engine)
    context, plugins = assemble(settings, engine)

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        if settings.database_auto_migrate and settings.is_sqlite:
            await anyio.to_thread.run_sync(upgrade_to_head, settings.database_url)
        stop = asyncio.Event()
        worker: asyncio.Task[None] | None = None
        jobs = plugins.background_jobs
        if settings.worker_in_process and jobs:
            worker = asyncio.create_task(run_worker(context, jobs, stop))
        try:
            yield
        finally:
            stop.set()
            if worker is not None:
                await worker
            await context.drivers.close()
            await context.store.close()
            await engine.dispose()

    app = Litestar(
        route_handlers=[
            create_static_files_router(
                path="/static/swagger",
                directories=[swagger_assets_directory()],
                include_in_schema=False,
                opt=PUBLIC_ROUTE,
            ),
        ],
        plugins=[SQLAlchemyPlugin(config=alchemy), ClosedStructSchemaPlugin(), *plugins.all],
        dependencies={"context": Provide(provide_context, sync_to_thread=False)},
        exception_handlers=EXCEPTION_HANDLERS,
        before_request=answer_options,
        openapi_config=public_documentation(build_openapi_config()),
        lifespan=[lifespan],
        debug=settings.debug,
        logging_config=build_logging_config(settings),
        request_max_body_size=1_048_576,
    )
    # Outside Litestar's error handling, so every answer is counted and logged (see the module).
    app.asgi_handler = RequestObservability(app.asgi_handler, plugins.metrics.http)
    if settings.is_production:
        app.asgi_handler = strict_transport(app.asgi_handler)
    app.state[STATE_KEY] = context
    app.state["settings"] = settings
    return app


SERVER_GC_THRESHOLDS = (20_000, 10, 10)
"""A server process's young generation is collected after 20 000 new container objects instead of
700: a sync batch makes tens of thousands that live until its answer is sent, and each collection
walks the young objects alive (the generations above as Python's defaults)."""


def settle_heap() -> None:
    """Move what a started server process holds for its whole life (every imported module, the
    application, its pools) out of the cyclic garbage collector's sight (`gc.freeze`). Its full
    collections, which a busy process's requests set off again and again, then walk only what
    requests made, not those hundreds of thousands of objects (measured: a fifth of a worker's CPU
    during an offline sync, see docs/PERFORMANCE.md). What requests make is freed as before; an
    object held since the start that later becomes cyclic garbage is never collected (such
    garbage is bounded by what the process held when it started)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*SERVER_GC_THRESHOLDS)


def create_app_from_env() -> Litestar:
    """Factory for the command line and uvicorn: settings from the environment. A server process
    settles its heap once started (`settle_heap`)."""
    app = create_app(Settings.from_env())
    app.on_startup.append(settle_heap)
    return app
