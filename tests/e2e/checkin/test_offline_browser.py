"""The scanner page without its server, in headless Chromium against uvicorn on loopback.

A paired device loads its scanner bundle, then the test cuts the server off (every request but
the page's own files is refused). The page keeps deciding on its own: it admits a valid signed
ticket, refuses a cancelled one (revoked in the bundle), a forged one (signed by another key) and
the first one scanned again, says it is offline and how many scans wait. When the server is back,
the queue is handed in and the server holds the four scans with its own decisions.
Screenshots land in `test-artifacts/scan/`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.async_api import Browser, Page, Route, async_playwright
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from tests.e2e.checkin.test_scanner_browser import (
    ARTIFACTS,
    REFUSE_CAMERA,
    create_people,
    dismiss,
    new_phone,
    sign_in_and_start,
)
from tests.e2e.payments.shop import login
from tests.support.browser import BROWSER_TEST_MARKS, CHROMIUM, CHROMIUM_ARGS
from tests.support.factories import event_body
from tests.support.live import LiveServer, live_client, live_servers, start_again, stop
from ticketflow.db.config import create_engine
from ticketflow.db.migrate import upgrade_to_head
from ticketflow.db.models.checkins import CheckIn
from ticketflow.db.models.tickets import Ticket
from ticketflow.lib.signed_codes import TicketSigner
from ticketflow.settings import Settings

pytestmark = BROWSER_TEST_MARKS

WAIT_MS = 30_000
PHONE_CLOCK_OFF = dt.timedelta(minutes=-10)
"""The phone's clock runs ten minutes slow: dated by it, its scans would come before its pairing,
which the server refuses."""
PAGE_OWN_FILES = ("/scan", "/static/scan/")


async def arrange(
    url: str, base: str, people: dict[str, dict[str, str]]
) -> tuple[int, list[dict[str, Any]], str]:
    """A free event with three signed tickets (the second cancelled) and a scanner's pairing code."""
    async with live_client(base_url=base, timeout=30) as http:
        organiser = await login(http, base, people["admin"]["email"], people["admin"]["password"])
        buyer = await login(http, base, people["attendee"]["email"], people["attendee"]["password"])
        event_id = (await http.post("/events", json=event_body(price_cents=0), headers=organiser)).json()[
            "id"
        ]
        bought = await http.post(f"/events/{event_id}/tickets", json={"quantity": 3}, headers=buyer)
        assert bought.status_code == 201, bought.text
        tickets = bought.json()["tickets"]
        cancelled = await http.post(f"/tickets/{tickets[1]['id']}/cancel", headers=organiser)
        assert cancelled.status_code == 200, cancelled.text
        scanner = await http.post(
            f"/events/{event_id}/scanners", json={"name": "South door"}, headers=organiser
        )
        pairing_code = scanner.json()["pairing_code"]
    signer = TicketSigner.from_settings(Settings(database_url=url))
    engine = create_engine(Settings(database_url=url), null_pool=True)
    async with async_sessionmaker(engine)() as session:
        for ticket in tickets:
            row = await session.get(Ticket, ticket["id"])
            ticket["code"] = signer.sign(row.id, row.event_id, row.ticket_type_id, row.code_version)
            await session.execute(update(Ticket).where(Ticket.id == row.id).values(code=ticket["code"]))
        await session.commit()
    await engine.dispose()
    return event_id, tickets, pairing_code


@dataclass
class Night:
    """A door's night: the database, its people, the server and the browser, and what the phones
    did that they must not (requests off loopback, script errors)."""

    url: str
    people: dict[str, dict[str, str]]
    server: LiveServer
    browser: Browser
    foreign: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    async def phone(self) -> Page:
        """A phone (camera refused: codes typed by hand), watched."""
        page = await new_phone(self.browser, self.server.base_url, self.foreign, self.problems)
        await page.add_init_script(REFUSE_CAMERA)
        return page

    async def paired_phone(self, pairing_code: str, clock: dt.datetime | None = None) -> Page:
        """A phone paired through its link, its bundle loaded; `clock`: what its own clock says."""
        page = await self.phone()
        if clock is not None:
            await page.clock.set_system_time(clock)
        await page.goto(f"/scan?decoder=jsqr#code={pairing_code}")
        await page.wait_for_selector('body[data-bundle="ready"]', timeout=WAIT_MS)
        return page


@asynccontextmanager
async def door_night(tmp_path: Path) -> AsyncIterator[Night]:
    """A migrated SQLite file with an admin, door staff and an attendee, one server on it and
    Chromium; on the way out, no phone went off loopback or logged an error."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'ticketflow.db'}"
    await asyncio.to_thread(upgrade_to_head, url)
    people = await create_people(url)
    with live_servers(url, 1, tmp_path) as (server,):
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            night = Night(url, people, server, browser)
            yield night
            await browser.close()
    assert night.foreign == []
    assert night.problems == []


async def end_session_on_phone(page: Page) -> None:
    """The phone's copy of its sign-in's end moved to the past (the server still takes the token)."""
    await page.evaluate(
        "(key) => { const s = JSON.parse(localStorage.getItem(key)); s.expiresAt = 1;"
        " localStorage.setItem(key, JSON.stringify(s)); }",
        "ticketflow.scan",
    )


async def kept_on_phone(page: Page) -> None:
    """Until the page's service worker controls it (the page's policy allows no `eval`: polled)."""
    for _ in range(WAIT_MS // 100):
        if await page.evaluate("navigator.serviceWorker.controller !== null"):
            return
        await asyncio.sleep(0.1)
    msg = "the scanner page's service worker never took the page over"
    raise AssertionError(msg)


async def cut_off(route: Route) -> None:
    if urlsplit(route.request.url).path.startswith(PAGE_OWN_FILES):
        await route.continue_()
    else:
        await route.abort("internetdisconnected")


async def proxy_without_its_server(route: Route) -> None:
    """A reverse proxy in front of a server that is down: 502 with its own page, no scan answer."""
    await route.fulfill(status=502, content_type="text/html", body="<h1>502 Bad Gateway</h1>")


async def scan_by_hand(page: Any, code: str, state: str, screenshot: str) -> None:
    await page.fill("#manual-code", code)
    await page.press("#manual-code", "Enter")
    await page.wait_for_selector(f'#result[data-state="{state}"]', timeout=WAIT_MS)
    await page.screenshot(path=ARTIFACTS / screenshot)
    await dismiss(page)


async def check_in_rows(url: str, *columns: Any) -> list[tuple[Any, ...]]:
    """`columns` of every scan-log row, the earliest scan first."""
    engine = create_engine(Settings(database_url=url), null_pool=True)
    async with async_sessionmaker(engine)() as session:
        rows = await session.execute(select(*columns).order_by(CheckIn.scanned_at))
        found = [tuple(row) for row in rows]
    await engine.dispose()
    return found


async def recorded(url: str) -> list[tuple[Any, ...]]:
    return await check_in_rows(
        url, CheckIn.scanned_code, CheckIn.result, CheckIn.reason, CheckIn.offline_result
    )


async def scanned_by(url: str) -> list[tuple[Any, ...]]:
    return await check_in_rows(url, CheckIn.scanned_code, CheckIn.result, CheckIn.scanner_id, CheckIn.gate_id)


async def recorded_soon(url: str, count: int) -> None:
    """Until the scan log holds `count` rows (the page hands scans in every few seconds)."""
    for _ in range(WAIT_MS // 250):
        if len(await recorded(url)) >= count:
            return
        await asyncio.sleep(0.25)
    msg = f"the scan log never held {count} scans"
    raise AssertionError(msg)


async def scan_times(url: str) -> list[dt.datetime]:
    times = [time for (time,) in await check_in_rows(url, CheckIn.scanned_at)]
    return [time.replace(tzinfo=dt.UTC) if time.tzinfo is None else time for time in times]


async def ticket_status(url: str, ticket_id: int) -> str:
    engine = create_engine(Settings(database_url=url), null_pool=True)
    async with async_sessionmaker(engine)() as session:
        status = (await session.get(Ticket, ticket_id)).status
    await engine.dispose()
    return str(status)


async def test_the_door_keeps_deciding_without_its_server(tmp_path: Path) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    started = dt.datetime.now(dt.UTC)
    async with door_night(tmp_path) as night:
        url, people, server = night.url, night.people, night.server
        event_id, tickets, pairing_code = await arrange(url, server.base_url, people)
        valid, revoked = tickets[0]["code"], tickets[1]["code"]
        other_key = TicketSigner([(0, hashlib.sha256(b"a key that is not the organiser's").digest())])
        forged = other_key.sign(tickets[2]["id"], event_id, tickets[2]["ticket_type_id"], 1)
        # the phone's clock is off: its offline scans are dated by the server's clock
        clock = dt.datetime.now(dt.UTC) + PHONE_CLOCK_OFF
        page = await night.paired_phone(pairing_code, clock)
        assert await page.is_hidden("#offline-banner")

        await page.route("**/*", cut_off)
        await scan_by_hand(page, valid, "valid", "20-offline-valid.png")
        assert await page.get_attribute("#offline-banner", "data-offline") == "true"
        assert await page.get_attribute("#offline-banner", "data-waiting") == "1"
        await scan_by_hand(page, revoked, "invalid", "21-offline-revoked.png")
        await scan_by_hand(page, forged, "invalid", "22-offline-forged.png")
        await scan_by_hand(page, valid, "already_used", "23-offline-again.png")
        banner = await page.inner_text("#offline-banner")
        assert "Offline" in banner
        assert "waiting to be sent: 4" in banner
        await page.screenshot(path=ARTIFACTS / "24-offline-banner.png")
        assert await recorded(url) == []

        await page.unroute("**/*", cut_off)
        await page.wait_for_selector("#offline-banner", state="hidden", timeout=WAIT_MS)
        await page.screenshot(path=ARTIFACTS / "25-synced.png")

        # behind a proxy, a server that is down answers 502: the door decides alone as well
        await page.route("**/validate", proxy_without_its_server)
        await scan_by_hand(page, tickets[2]["code"], "valid", "26-offline-behind-a-proxy.png")
        await page.unroute("**/validate", proxy_without_its_server)
        await page.wait_for_selector("#offline-banner", state="hidden", timeout=WAIT_MS)
    assert await recorded(url) == [
        (valid, "valid", None, "valid"),
        (revoked, "invalid", "cancelled", "invalid"),
        (forged, "invalid", "unknown", "invalid"),
        (valid, "already_used", None, "already_used"),
        (tickets[2]["code"], "valid", None, "valid"),
    ]
    assert await ticket_status(url, tickets[0]["id"]) == "used"
    times = await scan_times(url)
    assert started - dt.timedelta(seconds=5) <= min(times), "dated by the phone's clock, not the server's"
    assert max(times) <= dt.datetime.now(dt.UTC)


async def test_the_page_opens_again_while_its_server_is_down(tmp_path: Path) -> None:
    """The phone reloads the page (or the browser dropped it) while the server is down: the page
    and its files come from the phone (the service worker), the paired session and the bundle from
    its storage, and the door goes on deciding; back up, the server gets the scan. The phone's
    clock is off: the page opened again still dates its scans by the server's clock."""
    started = dt.datetime.now(dt.UTC)
    async with door_night(tmp_path) as night:
        url, people, server = night.url, night.people, night.server
        _, tickets, pairing_code = await arrange(url, server.base_url, people)
        clock = dt.datetime.now(dt.UTC) + PHONE_CLOCK_OFF
        page = await night.paired_phone(pairing_code, clock)
        await kept_on_phone(page)

        await asyncio.to_thread(stop, server)
        await page.reload()
        await page.wait_for_selector('body[data-bundle="ready"]', timeout=WAIT_MS)
        assert await page.is_visible("#scanner")
        await scan_by_hand(page, tickets[0]["code"], "valid", "28-reopened-without-server.png")
        await scan_by_hand(page, tickets[1]["code"], "invalid", "29-reopened-revoked.png")
        assert await page.get_attribute("#offline-banner", "data-offline") == "true"
        assert await page.get_attribute("#offline-banner", "data-waiting") == "2"
        # how old the phone's list of revoked codes is, in its own words
        assert "Ticket list of " in await page.inner_text("#offline-bundle")

        await asyncio.to_thread(start_again, server, url)
        await page.wait_for_selector("#offline-banner", state="hidden", timeout=WAIT_MS)
    assert await recorded(url) == [
        (tickets[0]["code"], "valid", None, "valid"),
        (tickets[1]["code"], "invalid", "cancelled", "invalid"),
    ]
    times = await scan_times(url)
    assert started - dt.timedelta(seconds=5) <= min(times), "dated by the phone's clock, not the server's"
    assert max(times) <= dt.datetime.now(dt.UTC)


async def test_a_phone_paired_again_hands_in_each_scan_as_the_scanner_that_made_it(tmp_path: Path) -> None:
    """A phone paired to an event's North gate queues a scan while its server cannot take scans,
    then is paired to another event's scanner and scans nothing more: when scans get through, the
    North scan is handed in with its own scanner's token (the new scanner may not sync it: it
    would have been refused, and held up every later scan behind it)."""
    async with door_night(tmp_path) as night:
        url, people, server = night.url, night.people, night.server
        event_id, tickets, _ = await arrange(url, server.base_url, people)
        async with live_client(base_url=server.base_url, timeout=30) as http:
            organiser = await login(
                http, server.base_url, people["admin"]["email"], people["admin"]["password"]
            )
            gate = (
                await http.post(f"/events/{event_id}/gates", json={"name": "North"}, headers=organiser)
            ).json()
            north = await http.post(
                f"/events/{event_id}/scanners",
                json={"name": "North", "gate_id": gate["id"]},
                headers=organiser,
            )
            assert north.status_code == 201, north.text
            other_event = (
                await http.post("/events", json=event_body(price_cents=0), headers=organiser)
            ).json()
            elsewhere = await http.post(
                f"/events/{other_event['id']}/scanners", json={"name": "Elsewhere"}, headers=organiser
            )
            assert elsewhere.status_code == 201, elsewhere.text
        page = await night.paired_phone(north.json()["pairing_code"])
        # the server answers, but no scan gets through: the door decides alone and queues
        await page.route("**/validate", proxy_without_its_server)
        await page.route("**/check-ins/sync", proxy_without_its_server)
        await scan_by_hand(page, tickets[0]["code"], "valid", "30-north-offline.png")

        # the link of another event's scanner, opened in the same tab
        await page.goto(f"/scan?decoder=jsqr#code={elsewhere.json()['pairing_code']}")
        await page.wait_for_selector("#scanner-gate:has-text('Scanner: Elsewhere')", timeout=WAIT_MS)
        await page.wait_for_selector('body[data-bundle="ready"]', timeout=WAIT_MS)
        assert await page.get_attribute("#offline-banner", "data-waiting") == "1"
        assert await recorded(url) == []

        await page.unroute("**/check-ins/sync", proxy_without_its_server)
        await page.wait_for_selector("#offline-banner", state="hidden", timeout=WAIT_MS)
    assert await scanned_by(url) == [(tickets[0]["code"], "valid", north.json()["id"], gate["id"])]


async def test_a_staff_phone_whose_sign_in_ended_goes_on_offline(tmp_path: Path) -> None:
    """Door staff signed in an hour ago, the sign-in has ended, the server is down: the page opened
    again keeps deciding offline (nobody could sign in now), a pairing link opened meanwhile
    changes nothing, and when the server is back it hands the scan in (the server still took the
    token here: only the phone's copy of its end was moved) and asks for the password."""
    async with door_night(tmp_path) as night:
        url, people, server = night.url, night.people, night.server
        event_id, tickets, pairing_code = await arrange(url, server.base_url, people)
        page = await night.phone()
        await sign_in_and_start(page, people["staff"], event_id)
        await page.wait_for_selector('body[data-bundle="ready"]', timeout=WAIT_MS)
        await kept_on_phone(page)

        await asyncio.to_thread(stop, server)
        await end_session_on_phone(page)  # the sign-in ran out while the server was down
        await page.reload()
        await page.wait_for_selector('body[data-bundle="ready"]', timeout=WAIT_MS)
        assert await page.is_visible("#scanner")
        await scan_by_hand(page, tickets[0]["code"], "valid", "32-staff-ended-offline.png")

        # a pairing link opened while the server is down: the door stays as it is
        await page.evaluate("(code) => { location.hash = 'code=' + code; }", pairing_code)
        await page.wait_for_selector('#result[data-state="offline"]', timeout=WAIT_MS)
        await dismiss(page)
        assert await page.is_visible("#scanner")
        assert "code=" not in page.url
        assert await page.get_attribute("#offline-banner", "data-waiting") == "1"

        await asyncio.to_thread(start_again, server, url)
        await page.wait_for_selector("#signin:not([hidden])", timeout=WAIT_MS)
        await recorded_soon(url, 1)  # handed in before the password is asked for again
        await sign_in_and_start(page, people["staff"], event_id)
        await page.wait_for_selector("#offline-banner", state="hidden", timeout=WAIT_MS)
    assert [row[:2] for row in await recorded(url)] == [(tickets[0]["code"], "valid")]


async def test_a_session_that_ended_while_the_page_was_closed_hands_in_its_queue(tmp_path: Path) -> None:
    """Scans queued offline, then the page closed and its session over (expired) before the network
    came back: opened again, the page hands the queue in before it asks for a new sign-in."""
    async with door_night(tmp_path) as night:
        url, people, server = night.url, night.people, night.server
        _, tickets, pairing_code = await arrange(url, server.base_url, people)
        page = await night.paired_phone(pairing_code)
        await page.route("**/*", cut_off)
        await scan_by_hand(page, tickets[0]["code"], "valid", "27-offline-before-closing.png")
        assert await recorded(url) == []

        # the session runs out while the page is closed; the network is back when it opens
        await end_session_on_phone(page)
        await page.unroute("**/*", cut_off)
        await page.goto("/scan?decoder=jsqr")
        await page.wait_for_selector("#signin:not([hidden])", timeout=WAIT_MS)
        await recorded_soon(url, 1)  # handed in while the page asks for a new sign-in
    assert await recorded(url) == [(tickets[0]["code"], "valid", None, "valid")]
