"""Alembic environment: async engines for MySQL/MariaDB (asyncmy) and SQLite (aiosqlite)."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

import ticketflow.db.models  # noqa: F401 - registers every table on the metadata
from ticketflow.db.base import Base
from ticketflow.settings import Settings

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    db_url = getattr(config, "db_url", None)  # advanced-alchemy's CLI passes its own config
    if db_url:
        return str(db_url)
    return Settings.from_env().database_url


def _configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        compare_server_default=False,
        **kwargs,
    )


def run_migrations_offline() -> None:
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _run_sync(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_online() -> None:
    engine: AsyncEngine | None = config.attributes.get("engine") or getattr(config, "engine", None)
    owned = engine is None
    if engine is None:
        from ticketflow.db.config import create_engine  # noqa: PLC0415

        engine = create_engine(Settings.from_env().with_overrides(database_url=_url()), null_pool=True)
    async with engine.connect() as connection:
        await connection.run_sync(_run_sync)
        await connection.commit()
    if owned:
        await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_migrations_online())
