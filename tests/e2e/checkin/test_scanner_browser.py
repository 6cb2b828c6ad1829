"""The scanner page in headless Chromium with a fake camera, against uvicorn on loopback.

The camera shows a real ticket's QR code (its `qr.png`, made into a video), then an empty frame
long enough for the page to forget it, in a loop: the first sighting admits the ticket (green),
the next one finds it used (amber). On a second phone whose camera is refused, a code typed by
hand that is no ticket is refused (red). A third device is a real scanner at a gate, paired by
the link the organiser got: it admits a ticket and shows the gate's counters, loses the server
(offline, then retried), and once the organiser revokes it the page says so (back to sign-in).
A fourth scans people out at a gate (the gates list and the answers played by the test); a
fifth has a `BarcodeDetector` and uses it instead of jsQR.
Screenshots of each state land in `test-artifacts/scan/`.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from PIL import Image
from playwright.async_api import Browser, Page, Route, async_playwright
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from tests.e2e.payments.shop import login
from tests.support.api import TEST_PASSWORDS
from tests.support.browser import BROWSER_TEST_MARKS, CHROMIUM, CHROMIUM_ARGS
from tests.support.factories import event_body, user_body
from tests.support.fake_camera import blank_frame, on_white_frame, y4m_video
from tests.support.live import LiveServer, live_client, live_servers
from ticketflow.db.config import create_engine
from ticketflow.db.migrate import upgrade_to_head
from ticketflow.db.models.checkins import CheckIn
from ticketflow.db.models.users import Role
from ticketflow.domain.accounts.service import AccountService
from ticketflow.settings import Settings

pytestmark = BROWSER_TEST_MARKS

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "scan"
CODE_FRAMES = 10
"""About a second of the code in view..."""
EMPTY_FRAMES = 60
"""...then several seconds without it: more than the page's two seconds of forgetting."""
WAIT_MS = 20_000
REFUSE_CAMERA = (
    "navigator.mediaDevices.getUserMedia = () =>"
    " Promise.reject(new DOMException('refused by the test', 'NotAllowedError'));"
)


async def create_people(database_url: str) -> dict[str, dict[str, str]]:
    """An admin, a door staff member and an attendee, made as the command line makes them."""
    engine = create_engine(Settings(database_url=database_url), null_pool=True)
    people = {}
    async with async_sessionmaker(engine)() as session:
        for role in (Role.ADMIN, Role.STAFF, Role.ATTENDEE):
            body = user_body()
            await AccountService(session, TEST_PASSWORDS).create_user(
                name=body["name"], email=body["email"], password=body["password"], role=role
            )
            people[role.value] = body
    await engine.dispose()
    return people


async def sell_a_ticket(base: str, people: dict[str, dict[str, str]]) -> tuple[int, dict[str, Any], bytes]:
    """A free event with one ticket bought by the attendee: (event id, ticket, its QR PNG)."""
    admin, attendee = people["admin"], people["attendee"]
    async with live_client(base_url=base, timeout=30) as http:
        organiser = await login(http, base, admin["email"], admin["password"])
        buyer = await login(http, base, attendee["email"], attendee["password"])
        body = event_body(title="Door Night", price_cents=0)
        event_id = (await http.post("/events", json=body, headers=organiser)).json()["id"]
        bought = await http.post(f"/events/{event_id}/tickets", json={"quantity": 1}, headers=buyer)
        assert bought.status_code == 201, bought.text
        ticket: dict[str, Any] = bought.json()["tickets"][0]
        qr = await http.get(f"/tickets/{ticket['id']}/qr.png", headers=buyer)
        assert qr.status_code == 200
    return event_id, ticket, qr.content


async def new_phone(browser: Browser, base_url: str, foreign: list[str], problems: list[str]) -> Page:
    """A page in a fresh context (its own storage) the size of a phone, watched: requests off
    loopback go to `foreign`, script errors and policy refusals to `problems` (404s are expected)."""
    context = await browser.new_context(base_url=base_url, viewport={"width": 412, "height": 860})
    page = await context.new_page()
    page.on("request", lambda r: foreign.append(r.url) if urlsplit(r.url).hostname != "127.0.0.1" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "console",
        lambda m: (
            problems.append(m.text) if m.type == "error" and "Failed to load resource" not in m.text else None
        ),
    )
    return page


async def sign_in_and_start(
    page: Page, staff: dict[str, str], event_id: int, address: str = "/scan?decoder=jsqr"
) -> None:
    await page.goto(address)
    await page.fill("#signin-email", staff["email"])
    await page.fill("#signin-password", staff["password"])
    await page.screenshot(path=ARTIFACTS / "01-sign-in.png")
    await page.click("#signin-submit")
    await page.wait_for_selector(f'#setup-event option[value="{event_id}"]', state="attached")
    await page.select_option("#setup-event", str(event_id))
    await page.screenshot(path=ARTIFACTS / "02-event.png")
    await page.click("#setup-submit")


async def paired_device(
    page: Page, base: str, people: dict[str, dict[str, str]], event_id: int, used: str
) -> None:
    """A real scanner device at a gate: the organiser creates it, the phone opens its pairing
    link, admits a ticket (with the gate's counters), loses the server, and is revoked."""
    await page.add_init_script(REFUSE_CAMERA)
    async with live_client(base_url=base, timeout=30) as http:
        organiser = await login(http, base, people["admin"]["email"], people["admin"]["password"])
        buyer = await login(http, base, people["attendee"]["email"], people["attendee"]["password"])
        gate = (
            await http.post(f"/events/{event_id}/gates", json={"name": "North"}, headers=organiser)
        ).json()
        body = {"name": "North door", "gate_id": gate["id"]}
        created = await http.post(f"/events/{event_id}/scanners", json=body, headers=organiser)
        assert created.status_code == 201, created.text
        bought = await http.post(f"/events/{event_id}/tickets", json={"quantity": 1}, headers=buyer)
        fresh = bought.json()["tickets"][0]["code"]
    link = urlsplit(created.json()["pairing_url"])
    assert (link.path, link.fragment) == ("/scan", f"code={created.json()['pairing_code']}")

    # Without its scanner bundle the device cannot decide alone (test_offline_browser.py has one):
    # an unreachable server means "try again".
    await page.route("**/scanner-bundle*", lambda route: route.abort("internetdisconnected"))
    await page.goto(f"{link.path}?decoder=jsqr#{link.fragment}")
    await page.wait_for_selector("#scanner-gate:has-text('North door')")
    assert "code=" not in page.url
    assert await page.is_hidden("#change-event")
    assert await page.is_hidden("#gate-counters")  # nothing to show before the first scan
    await page.fill("#manual-code", fresh)
    await page.press("#manual-code", "Enter")
    await shows(page, '#result[data-state="valid"]', "07-paired-valid.png")
    await dismiss(page)
    assert await page.inner_text("#count-gate") == "1 / 1 / 0"
    assert await page.inner_text("#scanner-gate") == "Scanner: North door · Gate: North"

    await page.route("**/validate", lambda route: route.abort("internetdisconnected"))
    await page.fill("#manual-code", used)
    await page.press("#manual-code", "Enter")
    await shows(page, '#result[data-state="offline"]', "08-offline.png")
    await page.unroute("**/validate")
    await page.click("#result-retry")
    await shows(page, '#result[data-state="already_used"]', "09-retried.png")
    await dismiss(page)
    assert await page.inner_text("#count-gate") == "1 / 1 / 1"

    async with live_client(base_url=base, timeout=30) as http:
        organiser = await login(http, base, people["admin"]["email"], people["admin"]["password"])
        revoked = await http.post(f"/scanners/{created.json()['id']}/revoke", headers=organiser)
        assert revoked.status_code == 200
    await page.fill("#manual-code", fresh)
    await page.press("#manual-code", "Enter")
    await page.wait_for_selector("#signin-message:has-text('This scanner was revoked')")
    await page.screenshot(path=ARTIFACTS / "10-revoked.png")
    assert await page.evaluate("JSON.parse(localStorage.getItem('ticketflow.scan')).token ?? null") is None


async def phone_with_a_barcode_detector(page: Page, staff: dict[str, str], event_id: int, code: str) -> None:
    """A browser with `BarcodeDetector` (Chrome on Android) decodes with it and never loads jsQR.

    Desktop Linux Chromium has no working detector, so the test gives it one that reads `code`
    from any camera frame; the scan itself reaches the real server.
    """
    detector = (
        "window.BarcodeDetector = class { static async getSupportedFormats() { return ['qr_code']; }"
        f" async detect(frame) {{ return frame.videoWidth ? [{{ rawValue: {code!r} }}] : []; }} }};"
    )
    await page.add_init_script(detector)
    scripts: list[str] = []
    page.on("request", lambda r: scripts.append(r.url) if r.resource_type == "script" else None)
    await sign_in_and_start(page, staff, event_id, address="/scan")
    await page.wait_for_selector('#result[data-state="already_used"]', timeout=WAIT_MS)
    assert await page.get_attribute("body", "data-decoder") == "barcode-detector"
    assert [url for url in scripts if "jsQR" in url] == []


async def device_at_a_gate(page: Page, staff: dict[str, str], event_id: int) -> None:
    """Staff pick a gate and scan people out; the gates API's answers are played by the test."""
    await page.add_init_script(REFUSE_CAMERA)
    gate = {"id": 3, "event_id": event_id, "name": "Side door", "ticket_type_ids": [], "allow_reentry": True}
    counters = {"admitted": 5, "inside": 4, "refused": 1}
    await page.route(f"**/events/{event_id}/gates", lambda route: route.fulfill(json=[gate | counters]))
    sent: list[Any] = []
    answers = [
        (200, {"result": "exited", "ticket": {"holder_name": "Ada Lovelace", "ticket_type_name": "Balcony"}}),
        (422, {"result": "invalid", "reason": "wrong_gate", "ticket": {"holder_name": "Alan Turing"}}),
    ]

    async def answer_scan(route: Route) -> None:
        sent.append(route.request.post_data_json)
        status, body = answers[len(sent) - 1]
        await route.fulfill(status=status, json=body)

    await page.route("**/validate", answer_scan)
    await page.goto("/scan?decoder=jsqr")
    await page.fill("#signin-email", staff["email"])
    await page.fill("#signin-password", staff["password"])
    await page.click("#signin-submit")
    await page.wait_for_selector("#setup-gate-field:not([hidden])")
    await page.select_option("#setup-gate", "3")
    await page.click("#setup-submit")
    await page.wait_for_selector("#count-gate:has-text('5 / 4 / 1')")
    await page.check("input[name=direction][value=out]")
    await page.fill("#manual-code", "tf1.leaving")
    await page.press("#manual-code", "Enter")
    await shows(page, '#result[data-state="exited"]', "11-exited.png")
    assert await page.inner_text("#result-name") == "Ada Lovelace"
    assert await page.inner_text("#result-detail") == "Ticket type: Balcony"
    await dismiss(page)
    await page.fill("#manual-code", "tf1.wrong-door")
    await page.press("#manual-code", "Enter")
    await shows(page, '#result[data-state="invalid"][data-reason="wrong_gate"]', "12-wrong-gate.png")
    assert await page.inner_text("#result-detail") == "This ticket is not admitted at this gate."
    assert sent == [{"event_id": event_id, "gate_id": 3, "direction": "out"}] * 2
    assert await page.inner_text("#scanner-gate") == "Gate: Side door"


async def shows(page: Page, selector: str, screenshot: str) -> None:
    await page.wait_for_selector(selector, timeout=WAIT_MS)
    await page.screenshot(path=ARTIFACTS / screenshot)


async def dismiss(page: Page) -> None:
    """Tap the answer away, as door staff do; the page may have hidden it already by itself (2.5 s
    after a green answer: a slow machine takes that long between the answer and the tap), so the
    tap does not wait for the answer to be visible."""
    await page.dispatch_event("#result-dismiss", "click")


async def scans_are_recorded(url: str, ticket_id: int, event_id: int) -> None:
    """One admission; the later scans found it used; the unknown code was kept; nothing else."""
    engine = create_engine(Settings(database_url=url), null_pool=True)
    async with async_sessionmaker(engine)() as session:
        scans = list((await session.scalars(select(CheckIn).order_by(CheckIn.id))).all())
    await engine.dispose()
    mine = [scan.result for scan in scans if scan.ticket_id == ticket_id]
    assert mine.count("valid") == 1
    assert mine[0] == "valid"
    assert set(mine[1:]) == {"already_used"}
    assert [scan.scanned_code for scan in scans if scan.ticket_id is None] == ["tf1.no-such-ticket"]
    assert {scan.door_event_id for scan in scans} == {event_id}


async def test_door_staff_scan_a_ticket_with_the_phone_camera(tmp_path: Path) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    url = f"sqlite+aiosqlite:///{tmp_path / 'ticketflow.db'}"
    await asyncio.to_thread(upgrade_to_head, url)
    people = await create_people(url)
    server: LiveServer
    with live_servers(url, 1, tmp_path) as (server,):
        event_id, ticket, qr_png = await sell_a_ticket(server.base_url, people)
        code_in_view = on_white_frame(Image.open(io.BytesIO(qr_png)))
        video = y4m_video(tmp_path / "door.y4m", [(code_in_view, CODE_FRAMES), (blank_frame(), EMPTY_FRAMES)])
        camera = [
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
        ]
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + camera)

            # A phone with a camera: the ticket is admitted, then found used.
            foreign: list[str] = []
            problems: list[str] = []
            page = await new_phone(browser, server.base_url, foreign, problems)
            await sign_in_and_start(page, people["staff"], event_id)
            await shows(page, '#result[data-state="valid"]', "03-valid.png")
            assert await page.text_content("#result-title") == "Admit"
            assert await page.inner_text("#result-name") == people["attendee"]["name"]
            assert await page.get_attribute("body", "data-decoder") == "jsqr"
            await page.wait_for_function(  # the screen reader's line comes 30 ms after the answer
                "name => document.getElementById('announce').textContent.includes(name)",
                arg=people["attendee"]["name"],
                timeout=WAIT_MS,
            )
            await shows(page, '#result[data-state="already_used"]', "04-already-used.png")
            assert (await page.inner_text("#result-detail")).startswith("First admitted at ")
            await dismiss(page)
            assert await page.inner_text("#count-admitted") == "1"
            assert int(await page.inner_text("#count-refused")) >= 1
            await page.screenshot(path=ARTIFACTS / "05-counters.png")

            # A phone whose camera is refused: the code typed by hand is no ticket.
            page = await new_phone(browser, server.base_url, foreign, problems)
            await page.add_init_script(REFUSE_CAMERA)
            await sign_in_and_start(page, people["staff"], event_id)
            await page.wait_for_selector("#camera-message:has-text('Camera access was refused')")
            await page.fill("#manual-code", "tf1.no-such-ticket")
            await page.press("#manual-code", "Enter")
            await shows(page, '#result[data-state="invalid"][data-reason="unknown"]', "06-invalid.png")
            assert "Unknown code" in await page.inner_text("#result-detail")
            assert await page.inner_text("#count-refused") == "1"

            # A scanner device paired by its link, which loses the server and is then revoked.
            page = await new_phone(browser, server.base_url, foreign, problems)
            await paired_device(page, server.base_url, people, event_id, ticket["code"])

            # A door with gates (when the server offers them): scans name the gate and direction.
            page = await new_phone(browser, server.base_url, foreign, problems)
            await device_at_a_gate(page, people["staff"], event_id)

            page = await new_phone(browser, server.base_url, foreign, problems)
            await phone_with_a_barcode_detector(page, people["staff"], event_id, ticket["code"])
            await browser.close()
        assert foreign == []
        assert problems == []

    await scans_are_recorded(url, ticket["id"], event_id)
