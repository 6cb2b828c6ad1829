"""A started server process settles its heap: what it holds for its whole life leaves the garbage
collector's sight, and its young generation is collected less often (see `ticketflow.app`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# In a process of its own: freezing the heap and changing the collector's thresholds would
# otherwise change them for the rest of the test run.
PROBE = """
import gc
from litestar.testing import TestClient
from ticketflow.app import SERVER_GC_THRESHOLDS, create_app_from_env

app = create_app_from_env()
assert gc.get_freeze_count() == 0, "frozen before start"
assert gc.get_threshold() != SERVER_GC_THRESHOLDS, "thresholds set before start"
with TestClient(app) as client:
    assert client.get("/health").status_code == 200
    assert gc.get_freeze_count() > 50_000, gc.get_freeze_count()
    assert gc.get_threshold() == SERVER_GC_THRESHOLDS, gc.get_threshold()
print("settled")
"""


def test_a_started_server_process_settles_its_heap(tmp_path: Path) -> None:
    environment = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'heap.db'}"}
    environment.pop("TICKETFLOW_ENV", None)
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("settled")
