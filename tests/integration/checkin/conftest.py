"""The door's and the sync's services on driver pools of their own, called in the test's loop: for
tests that hold one transaction while another runs."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ticketflow.db.config import create_engine
from ticketflow.db.driver_pool import create_driver_pool
from ticketflow.domain.checkin.service import CheckInService, GateRuleCache
from ticketflow.domain.checkin.sync import SyncService
from ticketflow.lib.signed_codes import TicketSigner
from ticketflow.settings import Settings


@pytest.fixture
async def syncing(settings: Settings) -> AsyncIterator[SyncService]:
    engine = create_engine(settings)
    service = SyncService(create_driver_pool(engine, 2), TicketSigner.from_settings(settings))
    yield service
    await service.drivers.close()
    await engine.dispose()


@pytest.fixture
async def checking_in(settings: Settings) -> AsyncIterator[CheckInService]:
    engine = create_engine(settings)
    service = CheckInService(
        create_driver_pool(engine, 4), TicketSigner.from_settings(settings), GateRuleCache()
    )
    yield service
    await service.drivers.close()
    await engine.dispose()
