"""A live server and generated code for the tests of the API contract (the OpenAPI document)."""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import httpx
from sqlalchemy.ext.asyncio import async_sessionmaker

from tests.support.api import TEST_PASSWORDS
from tests.support.databases import run_async
from tests.support.factories import user_body
from tests.support.live import LiveServer, live_servers
from ticketflow.db.config import create_engine
from ticketflow.db.models.users import Role
from ticketflow.domain.accounts.service import AccountService
from ticketflow.settings import Settings

REPOSITORY = Path(__file__).resolve().parents[2]
PYTHON_CLIENT_CONFIG = REPOSITORY / "docs" / "openapi-python-client.yaml"
CLIENT_PACKAGE = "ticketflow_client"


def create_account(database_url: str, role: Role) -> tuple[str, str]:
    """A user of `role` made as the command line makes it; returns (e-mail, password)."""

    async def create() -> None:
        engine = create_engine(Settings(database_url=database_url), null_pool=True)
        async with async_sessionmaker(engine)() as session:
            await AccountService(session, TEST_PASSWORDS).create_user(
                name=body["name"], email=body["email"], password=body["password"], role=role
            )
        await engine.dispose()

    body = user_body()
    run_async(create)
    return body["email"], body["password"]


@contextmanager
def contract_server(database_url: str, log_dir: Path) -> Iterator[LiveServer]:
    """One uvicorn process serving the app on a migrated, empty database."""
    with live_servers(database_url, 1, log_dir) as servers:
        yield servers[0]


def generate_python_client(server: LiveServer, directory: Path) -> ModuleType:
    """The client openapi-python-client generates from the served document, imported."""
    directory.mkdir(parents=True, exist_ok=True)
    document = directory / "openapi.json"
    document.write_bytes(httpx.get(f"{server.base_url}/docs/openapi.json").content)
    result = subprocess.run(
        [
            sys.executable, "-m", "openapi_python_client", "generate",
            "--path", str(document), "--config", str(PYTHON_CLIENT_CONFIG),
            "--meta", "none", "--output-path", str(directory / CLIENT_PACKAGE), "--fail-on-warning",
        ],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": str(Path(sys.executable).parent)},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    sys.path.insert(0, str(directory))
    try:
        for name in [name for name in sys.modules if name.startswith(CLIENT_PACKAGE)]:
            del sys.modules[name]
        return importlib.import_module(CLIENT_PACKAGE)
    finally:
        sys.path.remove(str(directory))
