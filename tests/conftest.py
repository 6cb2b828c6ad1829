"""Shared fixtures: databases (SQLite file, throwaway MariaDB), settings, app and client.

Every integration test runs against the schema the migrations build, on SQLite and on MariaDB.
MariaDB comes from `TEST_MYSQL_URL` (a server where the user may create databases) or is started
from the installed binaries. Without either, MySQL tests are skipped with the reason - unless
`REQUIRE_MYSQL=1`, which turns the skip into a failure (CI sets it).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from tests.support.mariadb import MariaDBServer, start_mariadb
from ticketflow.app import create_app
from ticketflow.db.base import Base
from ticketflow.db.config import create_engine
from ticketflow.db.migrate import upgrade_to_head
from ticketflow.settings import Settings

T = TypeVar("T")
BACKENDS = ["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)]


def settings_for_tests(database_url: str, **overrides: object) -> Settings:
    """Settings for tests: cheap argon2 parameters (still argon2id), no auto-migration."""
    base = Settings(
        env="test",
        database_url=database_url,
        jwt_secret="test-secret-" + "x" * 40,
        argon2_memory_kib=1024,
        argon2_time_cost=1,
        database_auto_migrate=False,
        worker_in_process=False,
    )
    return base.with_overrides(**overrides) if overrides else base


class MySQLProvider:
    """Creates databases on a MySQL/MariaDB server for the tests."""

    def __init__(self, admin_url: str, server: MariaDBServer | None) -> None:
        self.admin_url = admin_url
        self.server = server

    def url_for(self, database: str) -> str:
        return str(make_url(self.admin_url).set(database=database).render_as_string(hide_password=False))

    async def create_database(self, prefix: str = "tf") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        engine = create_engine(Settings(database_url=self.admin_url), null_pool=True)
        async with engine.connect() as connection:
            await connection.execute(
                text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
            )
        await engine.dispose()
        return self.url_for(name)


@pytest.fixture(scope="session")
def mysql_provider() -> Iterator[MySQLProvider]:
    given = os.environ.get("TEST_MYSQL_URL")
    required = os.environ.get("REQUIRE_MYSQL") == "1"
    if given:
        yield MySQLProvider(given, None)
        return
    try:
        server = start_mariadb()
    except (RuntimeError, OSError) as exc:
        if required:
            pytest.fail(f"REQUIRE_MYSQL=1 but no MySQL/MariaDB is available: {exc}")
        pytest.skip(f"MySQL tests skipped: {exc}")
    try:
        yield MySQLProvider(server.url("mysql"), server)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file migrated to head once; each test gets a copy."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade_to_head(f"sqlite+aiosqlite:///{path}")
    return path


def run_async(coroutine_function: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion from sync code, even while a loop runs in this thread."""
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(asyncio.run, coroutine_function()).result()


@pytest.fixture(scope="session")
def mysql_migrated_url(mysql_provider: MySQLProvider) -> str:
    url = run_async(lambda: mysql_provider.create_database("tf_shared"))
    upgrade_to_head(url)
    return url


async def truncate_all(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.execute(text("SET FOREIGN_KEY_CHECKS=0"))
        for table in reversed(Base.metadata.sorted_tables):
            await connection.execute(text(f"TRUNCATE TABLE `{table.name}`"))
        await connection.execute(text("SET FOREIGN_KEY_CHECKS=1"))


async def _truncate(url: str) -> None:
    engine = create_engine(Settings(database_url=url), null_pool=True)
    await truncate_all(engine)
    await engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    """A migrated, empty database on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "ticketflow.db"
        shutil.copyfile(sqlite_template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    url: str = request.getfixturevalue("mysql_migrated_url")
    run_async(lambda: _truncate(url))
    yield url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return settings_for_tests(database_url)


@pytest.fixture
def app(settings: Settings) -> Litestar:
    return create_app(settings)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Callable[[], object]]:
    """A session factory on the test database, for arranging data and asserting on it."""
    engine = create_engine(settings, null_pool=True)
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()
