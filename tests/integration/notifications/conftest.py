"""Fixtures of the notification tests: a loopback SMTP server, settings mailing through it, a worker."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.support.databases import settings_for_tests
from tests.support.mail import SmtpServer
from tests.support.mariadb import free_port
from ticketflow.db.config import create_engine
from ticketflow.lib.state import AppContext
from ticketflow.plugins import assemble
from ticketflow.settings import Settings


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def settings(database_url: str, smtp_server: SmtpServer, tmp_path: Path) -> Settings:
    """The test settings, mailing through the loopback SMTP server."""
    return settings_for_tests(
        database_url,
        mail_transport="smtp",
        smtp_host="127.0.0.1",
        smtp_port=smtp_server.port,
        smtp_timeout_seconds=5.0,
        mail_dir=str(tmp_path / "mail"),
        mail_from="Ticket-Flow Box Office <tickets@example.com>",
        mail_subject_prefix="[Ticket-Flow]",
    )


@pytest.fixture
async def worker(settings: Settings) -> AsyncIterator[AppContext]:
    """What `ticketflow worker` builds: its own engine and context, apart from the server's."""
    engine = create_engine(settings)
    context, _ = assemble(settings, engine)
    yield context
    await engine.dispose()
