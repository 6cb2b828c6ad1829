"""Liveness and readiness probes."""

from __future__ import annotations

import msgspec
from litestar import Controller, Response, get
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from ticketflow.domain.accounts.auth import EXCLUDE_FROM_AUTH


class Health(msgspec.Struct, omit_defaults=True):
    status: str
    database: str | None = None


class HealthController(Controller):
    tags = ["Operations"]

    @get("/health", opt=EXCLUDE_FROM_AUTH, security=[{}], summary="The process is up")
    async def health(self) -> Health:
        return Health(status="ok")

    @get("/ready", opt=EXCLUDE_FROM_AUTH, security=[{}], summary="The database answers")
    async def ready(self, db_engine: AsyncEngine) -> Response[Health]:
        try:
            async with db_engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except Exception:
            return Response(Health(status="unavailable", database="unreachable"), status_code=503)
        return Response(Health(status="ok", database="ok"))
