"""`ticketflow database upgrade` builds the schema the models describe, on SQLite and MariaDB."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, String, inspect, text
from sqlalchemy.engine import Connection, Inspector

import ticketflow.db.models  # noqa: F401 - every table, including those added later
from tests.support.databases import BACKENDS, inspected, run_async
from tests.support.live import server_environment
from ticketflow.db.base import Base
from ticketflow.db.config import create_engine
from ticketflow.db.migrate import current_head
from ticketflow.settings import Settings

TICKETFLOW = str(Path(sys.executable).with_name("ticketflow"))


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with no table at all: an empty SQLite file, or a new MariaDB database."""
    if request.param == "sqlite":
        path = tmp_path / "empty.db"
        path.touch()
        return f"sqlite+aiosqlite:///{path}"
    provider = request.getfixturevalue("mysql_provider")
    return run_async(lambda: provider.create_database("tf_migrate"))


def run_upgrade(database_url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TICKETFLOW, "database", "upgrade", "--no-prompt"],
        env=server_environment(database_url),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def schema_differences(connection: Connection, metadata: MetaData = Base.metadata) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": False}
    )
    return list(compare_metadata(context, metadata))


def altered_metadata() -> MetaData:
    """The models' metadata with `users.email` one size shorter: the comparison must see it."""
    metadata = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(metadata)
    metadata.tables["users"].c.email.type = String(100)
    return metadata


async def inspect_database(database_url: str) -> tuple[list[str], str | None, list[Any]]:
    engine = create_engine(Settings(database_url=database_url), null_pool=True)
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda c: inspect(c).get_table_names())
            version = await connection.scalar(text("SELECT version_num FROM alembic_version"))
            differences = await connection.run_sync(schema_differences)
            control = await connection.run_sync(schema_differences, altered_metadata())
    finally:
        await engine.dispose()
    assert [d[0][0] for d in control if isinstance(d, list)] == ["modify_type"], control
    return sorted(tables), version, differences


async def count_tables(database_url: str) -> int:
    return len(await inspected(database_url, Inspector.get_table_names))


def test_upgrade_builds_the_models_schema(empty_database_url: str, tmp_path: Path) -> None:
    assert run_async(lambda: count_tables(empty_database_url)) == 0

    result = run_upgrade(empty_database_url, tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    tables, version, differences = run_async(lambda: inspect_database(empty_database_url))
    assert version == current_head()
    assert set(Base.metadata.tables) | {"alembic_version"} == set(tables)
    assert differences == [], f"migrations and models disagree: {differences}"

    again = run_upgrade(empty_database_url, tmp_path)  # a second upgrade is a no-op
    assert again.returncode == 0, again.stdout + again.stderr
    assert run_async(lambda: inspect_database(empty_database_url))[:2] == (tables, version)
