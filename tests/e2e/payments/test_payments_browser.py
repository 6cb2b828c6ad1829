"""A buyer pays a priced ticket in a real browser: uvicorn on loopback, headless Chromium.

No payment account anywhere: the simulated provider's page, served by the app, is opened from the
`checkout_url` of the purchase; Chromium presses Pay (or Cancel) like a person would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from tests.e2e.payments.shop import create_users, local, login
from tests.support.browser import BROWSER_TEST_MARKS, CHROMIUM, CHROMIUM_ARGS
from tests.support.factories import event_body
from tests.support.live import LiveServer, live_client, live_servers

pytestmark = BROWSER_TEST_MARKS
PUBLIC_BASE_URL = "https://tickets.example"


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """The app under uvicorn on loopback; its links name the public address of the deployment."""
    env = {"PUBLIC_BASE_URL": PUBLIC_BASE_URL, "MAIL_DIR": str(tmp_path / "mail")}
    with live_servers(database_url, 1, tmp_path, **env) as (live,):
        yield live


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
    async with live_client(base_url=base, timeout=30) as http:
        admin = await login(http, base, admin_user[0], admin_user[1])
        buyer = await login(http, base, buyer_user[0], buyer_user[1])
        created = await http.post(
            "/events", json=event_body(title="Browser Jazz", capacity=4, price_cents=2500), headers=admin
        )
        event_id = created.json()["id"]
        bought = await http.post(f"/events/{event_id}/tickets", json={"quantity": 2}, headers=buyer)
        assert bought.status_code == 201, bought.text
        link = bought.json()["payment"]["checkout_url"]
        assert link.startswith(f"{PUBLIC_BASE_URL}/payments/simulated/")
        checkout_url = base + local(link)  # the public address, reached here on loopback

        page = await browser.new_page()
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        await page.goto(checkout_url)
        assert await page.inner_text("#event-title") == "Browser Jazz"
        assert await page.inner_text("#total") == "50.00 EUR"
        assert await page.get_attribute("#order-status", "data-status") == "pending"
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
        await page.goto(base + local(second.json()["payment"]["checkout_url"]))
        await page.click("#cancel")
        await page.wait_for_url(f"{base}/payments/cancelled?*")
        assert "nothing was charged" in await page.inner_text("#result")
        event = (await http.get(f"/events/{event_id}")).json()
        assert (event["tickets_sold"], event["tickets_available"]) == (2, 2)
        await page.close()
