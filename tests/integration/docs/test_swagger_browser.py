"""Swagger UI in headless Chromium against `uvicorn`: it renders from the app's own assets, with
no request off loopback, and its Authorize dialog logs in through `/login`.

A screenshot lands in `test-artifacts/docs/`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlsplit

from playwright.async_api import async_playwright
from sqlalchemy.ext.asyncio import async_sessionmaker

from tests.support.api import TEST_PASSWORDS
from tests.support.browser import BROWSER_TEST_MARKS, CHROMIUM, CHROMIUM_ARGS
from tests.support.live import live_servers
from ticketflow.db.config import create_engine
from ticketflow.db.migrate import upgrade_to_head
from ticketflow.db.models.users import Role
from ticketflow.domain.accounts.service import AccountService
from ticketflow.settings import Settings

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "docs"
pytestmark = BROWSER_TEST_MARKS


async def test_swagger_ui_renders_offline_and_authorizes(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'docs.db'}"
    await asyncio.to_thread(upgrade_to_head, url)
    engine = create_engine(Settings(database_url=url), null_pool=True)
    async with async_sessionmaker(engine, expire_on_commit=False)() as session:
        await AccountService(session, TEST_PASSWORDS).create_user(
            name="Swagger Reader",
            email="reader@example.com",
            password="correct horse battery",
            role=Role.STAFF,
        )
    await engine.dispose()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    with live_servers(url, 1, tmp_path) as (server,):
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = await browser.new_page(base_url=server.base_url)
            foreign: list[str] = []
            failed: list[str] = []
            page.on(
                "request",
                lambda r: foreign.append(r.url) if urlsplit(r.url).hostname != "127.0.0.1" else None,
            )
            page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            page.on("pageerror", lambda error: failed.append(str(error)))

            await page.goto("/docs")
            await page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
            assert "Ticket-Flow API" in await page.inner_text(".swagger-ui .info .title")
            for tag in ("Accounts", "Events", "Operations"):
                assert await page.locator(f"#operations-tag-{tag}").count() == 1

            await page.click("button.authorize")
            await page.fill("#oauth_username", "reader@example.com")
            await page.fill("#oauth_password", "correct horse battery")
            login = page.locator(".auth-container", has_text="SwaggerLogin")
            await login.locator(".auth-btn-wrapper button.authorize").click()
            await login.locator(".auth-btn-wrapper button", has_text="Logout").wait_for(timeout=10_000)
            await page.screenshot(path=ARTIFACTS / "swagger-authorized.png")
            await page.locator(".auth-btn-wrapper button", has_text="Close").first.click()

            await page.click("#operations-Accounts-getMe .opblock-summary")
            await page.click("#operations-Accounts-getMe button.try-out__btn")
            await page.click("#operations-Accounts-getMe button.execute")
            status = page.locator(
                "#operations-Accounts-getMe .live-responses-table tbody .response-col_status"
            ).first
            await status.wait_for(timeout=10_000)
            assert (await status.inner_text()).strip().startswith("200")
            body = await page.inner_text("#operations-Accounts-getMe .live-responses-table .microlight")
            assert "reader@example.com" in body
            assert '"role": "staff"' in body
            await page.screenshot(path=ARTIFACTS / "swagger-me.png", full_page=True)
            await browser.close()

    assert foreign == []
    assert failed == []
