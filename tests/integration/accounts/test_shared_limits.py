"""With `REDIS_URL`, the attempt limits hold across server processes: two real uvicorn processes
share one real redis-server, and the attempts counted on one are counted on the other."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from tests.support.factories import user_body
from tests.support.live import live_servers

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "ticketflow.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


def test_limits_count_across_two_processes(sqlite_url: str, redis_url: str, tmp_path: Path) -> None:
    limits = {
        "LOGIN_MAX_ATTEMPTS_PER_CLIENT": "3",
        "REGISTER_MAX_PER_CLIENT": "2",
        # windows far longer than the test: no attempt leaves its window before the test ends
        "LOGIN_WINDOW_SECONDS": "86400",
        "REGISTER_WINDOW_SECONDS": "86400",
    }
    with live_servers(sqlite_url, 2, tmp_path, REDIS_URL=redis_url, **limits) as (first, second):
        logins = []
        for number, server in enumerate([first, second, first, second]):
            response = httpx.post(
                f"{server.base_url}/login",
                json={"email": f"someone-{number}@example.com", "password": "a-wrong-password"},
                timeout=30,
            )
            logins.append(response.status_code)
        sign_ups = [
            httpx.post(f"{server.base_url}/register", json=user_body(), timeout=30).status_code
            for server in (second, first, second)
        ]
    # each process alone saw at most two attempts: only a shared count refuses the fourth
    assert logins == [401, 401, 401, 429]
    assert sign_ups == [201, 201, 429]
