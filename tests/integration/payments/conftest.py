"""Fixtures of the payment tests (helpers live in `flow.py`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.integration.payments.stripe_fake import FakeStripe, running_fake_stripe
from tests.support.api import Actor, make_actor
from ticketflow.db.config import create_engine
from ticketflow.domain.payments.service import PaymentService
from ticketflow.extensions import BackgroundJob, assemble
from ticketflow.lib.state import AppContext
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


@dataclass
class Worker:
    """The background worker as `ticketflow worker` builds it, run one pass at a time."""

    context: AppContext
    jobs: dict[str, BackgroundJob]

    @property
    def payments(self) -> PaymentService:
        assert isinstance(self.context.payments, PaymentService)
        return self.context.payments

    async def expire_holds(self) -> int:
        return await self.jobs["payments-expire-holds"](self.context)

    async def refunds(self) -> int:
        return await self.jobs["payments-refunds"](self.context)


@pytest.fixture
async def worker(settings: Settings) -> AsyncIterator[Worker]:
    engine = create_engine(settings, null_pool=True)
    context, extensions = assemble(settings, engine)
    yield Worker(context, dict(extensions.background_jobs))
    await engine.dispose()
