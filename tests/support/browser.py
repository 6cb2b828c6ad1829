"""Headless Chromium for the browser tests (Debian's `chromium`, driven by Playwright).

`CHROMIUM_PATH` points elsewhere. Without a browser the tests are skipped with the reason,
unless `REQUIRE_BROWSER=1` (CI), where they fail instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
BROWSER_REQUIRED = os.environ.get("REQUIRE_BROWSER") == "1"

BROWSER_TEST_MARKS = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists() and not BROWSER_REQUIRED,
        reason=f"{CHROMIUM} is not installed (apt-get install chromium, or set CHROMIUM_PATH)",
    ),
]
