"""Shared fixtures: databases (SQLite file, throwaway MariaDB), settings, app and client.

Every integration test runs against the schema the migrations build, on SQLite and on MariaDB.
MariaDB comes from `TEST_MYSQL_URL` (a server where the user may create databases) or is started
from the installed binaries. Without either, MySQL tests are skipped with the reason - unless
`REQUIRE_MYSQL=1`, which turns the skip into a failure (CI sets it). Helpers live in `tests.support`.
"""

from __future__ import annotations

import gc
import os
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import async_sessionmaker

from tests.support.databases import (
    BACKENDS,
    MySQLProvider,
    run_async,
    settings_for_tests,
    truncate_database,
)
from tests.support.mariadb import start_mariadb
from tests.support.redis import redis_server
from ticketflow.app import create_app
from ticketflow.db.config import create_engine
from ticketflow.db.migrate import upgrade_to_head
from ticketflow.settings import Settings


def pytest_collection_finish(session: pytest.Session) -> None:
    """Everything imported and collected stays for the whole run: moved out of the garbage
    collector's sight (`gc.freeze`), so its full collections, which an application built per test
    brings about every few tests, no longer walk those hundreds of thousands of objects."""
    gc.collect()
    gc.freeze()


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
def redis_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One throwaway redis-server for the session (skipped without the binary unless REQUIRE_REDIS=1)."""
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def redis_url(redis_server_url: str) -> str:
    """The session's redis-server, emptied for this test."""
    import redis

    with redis.Redis.from_url(redis_server_url) as connection:
        connection.flushdb()
    return redis_server_url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file migrated to head once; each test gets a copy."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade_to_head(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def mysql_migrated_url(mysql_provider: MySQLProvider) -> str:
    url = run_async(lambda: mysql_provider.create_database("tf_shared"))
    upgrade_to_head(url)
    return url


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    """A migrated, empty database on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "ticketflow.db"
        shutil.copyfile(sqlite_template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    url: str = request.getfixturevalue("mysql_migrated_url")
    run_async(lambda: truncate_database(url))
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
