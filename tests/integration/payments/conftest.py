"""Fixtures of the payment tests (helpers live in `flow.py` and `tests.support.payments`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.payments.stripe_fake import FakeStripe, running_fake_stripe
from tests.support.api import Actor, make_actor
from tests.support.payments import Worker
from ticketflow.db.config import create_engine
from ticketflow.plugins import assemble
from ticketflow.settings import Settings


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    with running_fake_stripe() as fake:
        yield fake


@pytest.fixture
async def admin(client: AsyncTestClient[Litestar], db: Any) -> Actor:
    return await make_actor(client, db, role="admin")


@pytest.fixture
async def attendee(client: AsyncTestClient[Litestar], db: Any) -> Actor:
    return await make_actor(client, db)


@pytest.fixture
async def worker(settings: Settings) -> AsyncIterator[Worker]:
    engine = create_engine(settings, null_pool=True)
    context, extensions = assemble(settings, engine)
    yield Worker(context, dict(extensions.background_jobs))
    await engine.dispose()
