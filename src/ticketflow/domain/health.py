"""Liveness and readiness probes."""

from __future__ import annotations

import msgspec
from litestar import Controller, Response, get
from litestar.config.app import AppConfig
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from ticketflow.lib.access import PUBLIC_ROUTE
from ticketflow.lib.api_docs import PUBLIC
from ticketflow.lib.plugins import ContextPlugin


class Health(msgspec.Struct, omit_defaults=True):
    status: str
    database: str | None = None


class HealthController(Controller):
    tags = ["Operations"]

    @get(
        "/health",
        opt=PUBLIC_ROUTE,
        security=PUBLIC,
        operation_id="getHealth",
        summary="The process is up",
    )
    async def health(self) -> Health:
        return Health(status="ok")

    @get(
        "/ready",
        opt=PUBLIC_ROUTE,
        security=PUBLIC,
        operation_id="getReadiness",
        summary="The database answers",
        description="200 when a `SELECT 1` succeeds, 503 otherwise (for load balancers).",
        responses={
            503: ResponseSpec(
                data_container=Health,
                description="the database cannot be reached",
                generate_examples=False,
                examples=[
                    Example(summary="Unavailable", value={"status": "unavailable", "database": "unreachable"})
                ],
            )
        },
    )
    async def ready(self, db_engine: NamedDependency[AsyncEngine]) -> Response[Health]:
        try:
            async with db_engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:
            return Response(Health(status="unavailable", database="unreachable"), status_code=503)
        return Response(Health(status="ok", database="ok"))


class HealthPlugin(ContextPlugin):
    """The probes of load balancers and orchestrators."""

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.route_handlers.append(HealthController)
        return app_config
