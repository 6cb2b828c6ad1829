"""The back office in headless Chromium against a real uvicorn server on loopback.

Screenshots of every page land in `test-artifacts/admin/`.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Download, Page, async_playwright
from sqlalchemy.ext.asyncio import async_sessionmaker

from tests.integration.stats.scenario import Scenario, seed
from tests.support.back_office import VIEW_IDENTITIES
from tests.support.browser import BROWSER_TEST_MARKS, CHROMIUM, CHROMIUM_ARGS
from tests.support.live import live_client, live_servers
from ticketflow.db.config import create_engine
from ticketflow.db.migrate import upgrade_to_head
from ticketflow.settings import Settings

pytestmark = BROWSER_TEST_MARKS

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "admin"


@dataclass
class Site:
    base_url: str
    scenario: Scenario
    browser: Browser


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A migrated SQLite file, and a folder for the server's log."""
    folder = tmp_path_factory.mktemp("back-office")
    url = f"sqlite+aiosqlite:///{folder / 'ticketflow.db'}"
    upgrade_to_head(url)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return url, folder


@pytest.fixture(scope="module")
async def site(database: tuple[str, Path]) -> AsyncIterator[Site]:
    url, folder = database
    engine = create_engine(Settings(database_url=url), null_pool=True)
    with live_servers(url, 1, folder) as (server,):
        async with live_client(base_url=server.base_url, timeout=30) as client:
            scenario = await seed(client, async_sessionmaker(engine, expire_on_commit=False))
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                yield Site(server.base_url, scenario, browser)
            finally:
                await browser.close()
    await engine.dispose()


@pytest.fixture
async def page(site: Site) -> AsyncIterator[Page]:
    """A fresh browser context; fails the test on any request off loopback, any script error and
    any asset that fails to load (refusals of the page itself are what some tests expect)."""
    context = await site.browser.new_context(base_url=site.base_url, accept_downloads=True)
    page = await context.new_page()
    foreign: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: foreign.append(r.url) if urlsplit(r.url).hostname != "127.0.0.1" else None)
    page.on(
        "console",
        lambda m: errors.append(m.text) if m.type == "error" and "Failed to load" not in m.text else None,
    )
    page.on(
        "response",
        lambda r: (
            errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and r.request.resource_type != "document"
            else None
        ),
    )
    yield page
    await context.close()
    assert foreign == []
    assert errors == []


async def log_in(page: Page, email: str, password: str) -> None:
    await page.goto("/admin/login")
    await page.fill("input[name=username]", email)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")


async def saved_text(download: Download) -> str:
    """Keep the downloaded file with the screenshots; return its text."""
    target = ARTIFACTS / download.suggested_filename
    await download.save_as(target)
    return await asyncio.to_thread(target.read_text)


async def shot(page: Page, name: str) -> None:
    await page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


@pytest.fixture
async def admin_page(site: Site, page: Page) -> Page:
    """The page, logged in as the scenario's admin (through the login form)."""
    await log_in(page, site.scenario.admin.email, site.scenario.admin.password)
    assert page.url.endswith("/admin/dashboard")
    return page


async def test_login_leads_to_the_dashboard_with_the_right_figures(site: Site, page: Page) -> None:
    scenario = site.scenario
    await page.goto("/admin/")
    assert page.url.endswith("/admin/login")
    await shot(page, "01-login")

    await log_in(page, scenario.admin.email, scenario.admin.password)

    assert page.url.endswith("/admin/dashboard")
    await page.wait_for_selector("#event-figures")
    await shot(page, "02-dashboard")
    for name, expected in scenario.expected.items():
        row = page.locator(f'tr[data-event-id="{scenario.event_id(name)}"]')
        for figure in ("capacity", "tickets_sold", "tickets_held", "tickets_available", "checked_in"):
            text = await row.locator(f'[data-figure="{figure}"]').inner_text()
            assert int(text) == getattr(expected, figure), (name, figure)
        rate = await row.locator('[data-figure="check_in_rate"]').get_attribute("data-rate")
        assert float(rate) == expected.check_in_rate
    assert await page.locator("#sales-chart svg .tf-bar").count() >= 1


async def test_every_view_opens(admin_page: Page) -> None:
    page = admin_page
    for index, identity in enumerate(VIEW_IDENTITIES, start=3):
        await page.goto(f"/admin/{identity}/list")
        await page.wait_for_selector("table")
        assert await page.locator("tbody tr").count() >= 1, identity
        await shot(page, f"{index:02d}-{identity}-list")
        await page.goto(f"/admin/{identity}/details/1")
        assert await page.locator("table").count() >= 1
        assert "argon2" not in await page.content()
        await shot(page, f"{index:02d}-{identity}-details")


async def test_event_page_and_csv_exports(site: Site, admin_page: Page) -> None:
    page = admin_page
    await page.goto(f"/admin/dashboard/events/{site.scenario.event_id('Alpha')}")
    assert await page.locator("#door-chart svg").count() == 1
    assert int(await page.locator('#figures [data-figure="checked_in"]').inner_text()) == 2
    await shot(page, "13-event-alpha")
    async with page.expect_download() as download_info:
        await page.click("#export-tickets")
    tickets = await saved_text(await download_info.value)
    assert len(list(csv.DictReader(io.StringIO(tickets)))) == 6
    async with page.expect_download() as download_info:
        await page.click("#export-check-ins")
    check_ins = await saved_text(await download_info.value)
    assert len(list(csv.DictReader(io.StringIO(check_ins)))) == 5


async def test_admin_creates_a_staff_account(admin_page: Page) -> None:
    page = admin_page
    await page.goto("/admin/user/create")
    await page.fill("input[name=name]", "Night Door")
    await page.fill("input[name=email]", "night.door@example.com")
    await page.fill("input[name=password]", "long-password-1")
    await page.select_option("select[name=role]", "staff")
    await shot(page, "14-user-create")
    await page.click("input[type=submit][value=Save], button[type=submit]:has-text('Save')")
    await page.wait_for_url("**/admin/user/list**")
    assert "night.door@example.com" in await page.content()


async def test_failed_email_is_retried_from_the_list(admin_page: Page) -> None:
    page = admin_page
    await page.goto("/admin/outbox-message/list?status=failed")
    await page.check("tbody .select-box")
    await page.click("#dropdownMenuButton")
    await page.click("#action-customconfirm-retry")
    await page.click("#action-custom-modal-retry")
    await page.wait_for_selector(".toast")
    await shot(page, "15-outbox-retried")
    assert "1 message(s) queued again." in await page.content()
    await page.goto("/admin/outbox-message/list?status=failed")
    assert await page.locator("tbody .select-box").count() == 0  # nothing failed any more


async def test_logout(admin_page: Page) -> None:
    page = admin_page
    await page.goto("/admin/logout")
    assert page.url.endswith("/admin/login")
    await page.goto("/admin/dashboard")
    assert page.url.endswith("/admin/login")


async def test_attendee_cannot_log_in(site: Site, page: Page) -> None:
    await log_in(page, site.scenario.attendee.email, site.scenario.attendee.password)

    assert page.url.endswith("/admin/login")
    assert "Only administrators, and door staff for the door desk, can sign in here." in await page.content()
    await shot(page, "16-attendee-refused")
    await page.goto("/admin/dashboard")
    assert page.url.endswith("/admin/login")


async def test_wrong_password_shows_the_login_again(site: Site, page: Page) -> None:
    await log_in(page, site.scenario.admin.email, "not-the-password")

    assert page.url.endswith("/admin/login")
    assert "Invalid credentials." in await page.content()
    await shot(page, "17-wrong-password")
