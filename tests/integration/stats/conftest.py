from __future__ import annotations

import pytest

from tests.integration.stats.scenario import Scenario, seed


@pytest.fixture
async def scenario(client, db) -> Scenario:
    return await seed(client, db)
