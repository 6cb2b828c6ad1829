"""A buyer pays a priced ticket in a real browser: uvicorn on loopback, headless Chromium.

No payment account anywhere: the simulated provider's page, served by the app, is opened from the
`checkout_url` of the purchase; Chromium presses Pay (or Cancel) like a person would.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, async_playwright

from tests.e2e.payments.shop import create_users, login
from tests.support.factories import event_body
from tests.support.live import LiveServer, server_environment, wait_ready
from tests.support.mariadb import free_port

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed"),
]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """The app under uvicorn, knowing its own public URL (checkout links point back to it)."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "ticketflow.app:create_app_from_env",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-access-log",
            ],
            env=server_environment(database_url, PUBLIC_BASE_URL=base_url, MAIL_DIR=str(tmp_path / "mail")),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    live = LiveServer(base_url, process, log_path)
    try:
        wait_ready(live)
        yield live
    finally:
        process.terminate()
        process.wait(timeout=15)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


async def test_buyer_pays_in_the_browser_and_cancels_another_order(
    database_url: str, server: LiveServer, browser: Browser
) -> None:
    admin_user, buyer_user = await create_users(database_url, 1)
    base = server.base_url
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        admin = await login(http, base, admin_user[0], admin_user[1])
        buyer = await login(http, base, buyer_user[0], buyer_user[1])
        created = await http.post(
            "/events", json=event_body(title="Browser Jazz", capacity=4, price_cents=2500), headers=admin
        )
        event_id = created.json()["id"]
        bought = await http.post(f"/events/{event_id}/tickets", json={"quantity": 2}, headers=buyer)
        assert bought.status_code == 201, bought.text
        checkout_url = bought.json()["payment"]["checkout_url"]
        assert checkout_url.startswith(f"{base}/payments/simulated/")

        page = await browser.new_page()
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        await page.goto(checkout_url)
        assert await page.inner_text("#event-title") == "Browser Jazz"
        assert await page.inner_text("#total") == "50.00 EUR"
        assert await page.inner_text("#order-status") == "pending"
        await page.click("#pay")
        await page.wait_for_url(f"{base}/payments/success?*")
        assert "Payment received" in await page.inner_text("h1")
        assert "active" in await page.inner_text("#result")
        assert all(url.startswith(base) for url in requested), requested

        tickets = (await http.get("/tickets", headers=buyer)).json()["items"]
        assert sorted(t["status"] for t in tickets) == ["active", "active"]
        event = (await http.get(f"/events/{event_id}")).json()
        assert (event["tickets_sold"], event["tickets_available"]) == (2, 2)

        second = await http.post(f"/events/{event_id}/tickets", json={"quantity": 2}, headers=buyer)
        assert (await http.get(f"/events/{event_id}")).json()["tickets_available"] == 0
        await page.goto(second.json()["payment"]["checkout_url"])
        await page.click("#cancel")
        await page.wait_for_url(f"{base}/payments/cancelled?*")
        assert "nothing was charged" in await page.inner_text("#result")
        event = (await http.get(f"/events/{event_id}")).json()
        assert (event["tickets_sold"], event["tickets_available"]) == (2, 2)
        await page.close()
