"""Engine and session configuration for MySQL/MariaDB (asyncmy) and SQLite (aiosqlite)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from advanced_alchemy.extensions.litestar import (
    AlembicAsyncConfig,
    AsyncSessionConfig,
    SQLAlchemyAsyncConfig,
)
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from ticketflow.db.base import Base
from ticketflow.db.migrate import migrations_directory
from ticketflow.settings import Settings

SQLITE_BUSY_TIMEOUT_MS = 30_000


def database_url(settings: Settings) -> URL:
    """The URL with the options every connection needs (utf8mb4 on MySQL)."""
    url = make_url(settings.database_url)
    if url.get_backend_name() in ("mysql", "mariadb") and "charset" not in url.query:
        url = url.update_query_dict({"charset": "utf8mb4"})
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    return url


def engine_options(settings: Settings) -> dict[str, Any]:
    url = database_url(settings)
    if url.get_backend_name() == "sqlite":
        return {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}}
    return {
        "pool_pre_ping": True,
        "pool_size": settings.database_pool_size,
        "max_overflow": settings.database_max_overflow,
        "pool_recycle": 1800,
    }


def configure_sqlite(engine: AsyncEngine) -> None:
    """SQLite: foreign keys on, WAL, and every transaction `BEGIN IMMEDIATE`.

    Taking the write lock at BEGIN makes concurrent writers queue on the busy timeout instead of
    failing with "database is locked" when a read transaction later tries to write.
    """
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if ":memory:" not in str(engine.url):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
            return  # e.g. a migration's PRAGMA foreign_keys, which only works outside a transaction
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(settings: Settings, *, null_pool: bool = False) -> AsyncEngine:
    options = engine_options(settings)
    if null_pool:
        options = {k: v for k, v in options.items() if not k.startswith(("pool_size", "max_overflow"))}
        options["poolclass"] = NullPool
    engine = create_async_engine(database_url(settings), echo=settings.database_echo, **options)
    configure_sqlite(engine)
    return engine


_configs_built = itertools.count(1)


def build_alchemy_config(engine: AsyncEngine) -> SQLAlchemyAsyncConfig:
    """The advanced-alchemy plugin's configuration for one app.

    Each config gets state keys of its own: advanced-alchemy keeps the keys of every config ever
    built in the process and makes a taken key unique by trying `key_1`, `key_2`... recursively,
    which overflows the stack after about a thousand apps in one process (the test suite builds
    more than that). With fresh keys the first try is free.
    """
    number = next(_configs_built)
    return SQLAlchemyAsyncConfig(
        session_scope_key=f"_ticketflow_db_session_{number}",
        engine_app_state_key=f"ticketflow_db_engine_{number}",
        session_maker_app_state_key=f"ticketflow_session_maker_{number}",
        engine_instance=engine,
        session_config=AsyncSessionConfig(expire_on_commit=False),
        metadata=Base.metadata,
        create_all=False,
        alembic_config=AlembicAsyncConfig(
            script_location=str(migrations_directory()),
            version_table_name="alembic_version",
            render_as_batch=True,
        ),
    )
