"""Apply alembic migrations programmatically (used by `ticketflow run` and the tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine


def migrations_directory() -> Path:
    """The alembic folder: bundled in the wheel, or `migrations/` of a source checkout."""
    here = Path(__file__).resolve()
    for candidate in (here.parents[1] / "_migrations", here.parents[3] / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    msg = "migrations folder not found"
    raise FileNotFoundError(msg)


def alembic_config(engine: AsyncEngine | None = None, url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_directory()))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url)
    config.attributes["engine"] = engine
    return config


def upgrade_to_head(url: str) -> None:
    """Bring the database at `url` to the newest revision (blocking; call from a thread)."""
    command.upgrade(alembic_config(url=url), "head")


def current_head() -> str | None:
    """The newest revision of the migrations folder."""
    from alembic.script import ScriptDirectory  # noqa: PLC0415 - only needed here

    return ScriptDirectory.from_config(alembic_config()).get_current_head()
