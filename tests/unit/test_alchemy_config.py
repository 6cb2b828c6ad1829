"""The database plugin's configuration can be built as often as a process needs (one per app)."""

from __future__ import annotations

import asyncio
import sys

from ticketflow.db.config import build_alchemy_config, create_engine
from ticketflow.settings import Settings


def test_many_apps_in_one_process_each_get_their_own_keys() -> None:
    engine = create_engine(Settings(database_url="sqlite+aiosqlite:///:memory:"))
    try:
        configs = [build_alchemy_config(engine) for _ in range(sys.getrecursionlimit() + 100)]
    finally:
        asyncio.run(engine.dispose())
    assert len({config.session_scope_key for config in configs}) == len(configs)
    assert len({config.session_maker_app_state_key for config in configs}) == len(configs)
