"""The OpenAPI document, built once: it depends on the routes alone, not on the database, so the
tests that only read it share one app instead of building one per test and backend."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.serialization import encode_json

from tests.support.databases import settings_for_tests
from ticketflow.app import create_app


@pytest.fixture(scope="session")
def document_app(tmp_path_factory: pytest.TempPathFactory) -> Litestar:
    database = Path(tmp_path_factory.mktemp("document")) / "unused.db"
    return create_app(settings_for_tests(f"sqlite+aiosqlite:///{database}"))


@pytest.fixture
def spec(document_app: Litestar) -> dict[str, Any]:
    """The document as `/docs/openapi.json` serves it (a fresh copy for each test)."""
    document: dict[str, Any] = json.loads(encode_json(document_app.openapi_schema.to_schema()))
    return document
