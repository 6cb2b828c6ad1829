"""GET /scan and its assets: content types, caching, the strict CSP, the vendored decoder's licence.

The page needs no database: one app on an empty SQLite file serves every case here.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.support.databases import settings_for_tests
from ticketflow.app import create_app
from ticketflow.domain.checkin.scanner_page import ASSETS, PAGE_TEXTS, STATIC_DIR, asset_url

JSQR_DIR = STATIC_DIR / "vendor" / "jsqr"


class PageParts(HTMLParser):
    """The tags of the page that could load or run something."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.links: list[dict[str, str | None]] = []
        self.inline_styles: list[str] = []
        self.style_blocks = 0
        self.html_lang: str | None = None
        self.data_blocks: list[str] = []
        self._in_data_block = False
        self.body_attrs: dict[str, str | None] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if "style" in named:
            self.inline_styles.append(tag)
        if any(name.startswith("on") for name in named):
            self.inline_styles.append(f"{tag} handler")
        if tag == "html":
            self.html_lang = named.get("lang")
        elif tag == "script":
            self.scripts.append(named)
            self._in_data_block = named.get("type") == "application/json"
        elif tag == "link":
            self.links.append(named)
        elif tag == "style":
            self.style_blocks += 1
        elif tag == "body":
            self.body_attrs = named

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_data_block = False

    def handle_data(self, data: str) -> None:
        if self._in_data_block:
            self.data_blocks.append(data)


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[AsyncTestClient[Litestar]]:
    app = create_app(settings_for_tests(f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}"))
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


async def test_the_page_is_public_html_with_a_strict_policy_and_only_its_own_assets(
    client: AsyncTestClient[Litestar],
) -> None:
    response = await client.get("/scan")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert "unsafe" not in policy
    assert "camera=(self)" in response.headers["permissions-policy"]

    page = PageParts()
    page.feed(response.text)
    assert page.html_lang == "en"
    assert page.inline_styles == []
    assert page.style_blocks == 0
    code_scripts = [s for s in page.scripts if s.get("type") != "application/json"]
    assert [s.get("type") for s in code_scripts] == ["module"]
    assets = [str(s["src"]) for s in code_scripts] + [str(link["href"]) for link in page.links]
    assets.append(str(page.body_attrs["data-jsqr"]))
    assert all(url.startswith("/static/scan/") and "?v=" in url for url in assets), assets
    assert "http://" not in response.text
    assert "https://" not in response.text
    assert json.loads("".join(page.data_blocks)) == PAGE_TEXTS

    expected_types = {"scan.css": "text/css", "scan.js": "text/javascript", "jsQR.js": "text/javascript"}
    for url in assets:
        asset = await client.get(url)
        assert asset.status_code == 200, url
        name = url.split("?")[0].rsplit("/", 1)[1]
        assert asset.headers["content-type"].startswith(expected_types[name]), url
        assert "max-age=604800" in asset.headers["cache-control"]
        assert asset.content == (STATIC_DIR / url.split("?")[0].removeprefix("/static/scan/")).read_bytes()


async def test_a_changed_asset_gets_a_new_address_and_unknown_assets_are_404(
    client: AsyncTestClient[Litestar],
) -> None:
    page = (await client.get("/scan")).text
    digest = hashlib.sha256((STATIC_DIR / "scan.js").read_bytes()).hexdigest()[:12]
    assert f"/static/scan/scan.js?v={digest}" in page
    assert (await client.get("/static/scan/nothing.js")).status_code == 404
    assert (await client.get("/static/scan/../scanner_page.py")).status_code == 404


async def test_the_page_speaks_the_browsers_language(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/scan", headers={"Accept-Language": "es-ES,es;q=0.9,en;q=0.5"})

    assert response.headers["content-language"] == "es"
    assert "accept-language" in response.headers["vary"].lower()
    page = PageParts()
    page.feed(response.text)
    assert page.html_lang == "es"
    texts = json.loads("".join(page.data_blocks))
    assert texts.keys() == PAGE_TEXTS.keys()
    untranslated = [key for key, text in texts.items() if text == PAGE_TEXTS[key]]
    assert untranslated == []
    assert texts["already_used_at"] == "Admitida por primera vez a las %(time)s"
    assert "<title>Escáner de entradas</title>" in response.text

    english = await client.get("/scan", headers={"Accept-Language": "fr, en;q=0.5"})
    assert english.headers["content-language"] == "en"
    assert "<title>Ticket scanner</title>" in english.text


def test_every_text_the_script_uses_is_in_the_one_dictionary() -> None:
    script = (STATIC_DIR / "scan.js").read_text()
    used = set(re.findall(r"\bt\(\"(\w+)\"", script))
    reasons = re.search(r"const REASONS = \[([^\]]*)\]", script)
    assert reasons is not None
    used |= {f"reason_{name}" for name in re.findall(r"\"(\w+)\"", reasons.group(1))}
    assert "reason_wrong_gate" in used
    assert used - PAGE_TEXTS.keys() == set()


def test_the_vendored_decoder_carries_its_licence_and_matches_its_notice() -> None:
    notice = (JSQR_DIR / "README.md").read_text()
    recorded = re.search(r"sha256 of `jsQR.js`: `([0-9a-f]{64})`", notice)
    assert recorded is not None
    decoder = (JSQR_DIR / "jsQR.js").read_bytes()
    assert hashlib.sha256(decoder).hexdigest() == recorded.group(1)
    assert "`jsqr` 1.4.0" in notice
    licence = (JSQR_DIR / "LICENSE").read_text()
    assert "Apache License" in licence
    assert "Version 2.0" in licence
    assert b"eval(" not in decoder
    assert b"new Function" not in decoder


async def test_the_licence_is_served_beside_the_decoder(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/static/scan/vendor/jsqr/LICENSE")
    assert response.status_code == 200
    assert "Apache License" in response.text


async def test_the_service_worker_keeps_the_page_and_exactly_its_files(
    client: AsyncTestClient[Litestar],
) -> None:
    page = PageParts()
    page.feed((await client.get("/scan")).text)
    worker_url = page.body_attrs["data-worker"]
    assert worker_url == "/scan-worker.js"
    assert page.body_attrs["data-scope"] == "/scan"

    worker = await client.get(worker_url)

    assert worker.status_code == 200
    assert worker.headers["content-type"].startswith("text/javascript")
    assert worker.headers["cache-control"] == "no-cache"  # a new version reaches the phone at once
    assert "service-worker-allowed" not in worker.headers  # its scope is under its own address
    script = worker.text
    declared = {
        name: json.loads(value)
        for name, value in re.findall(r"^const (CACHE|PAGE|FILES|PAGE_WAIT_MS) = (.+);$", script, re.M)
    }
    assert declared["PAGE"] == "/scan"
    assert declared["FILES"] == [asset_url(name) for name in ASSETS.values()]
    assert all(f.startswith("/static/scan/") and "?v=" in f for f in declared["FILES"])
    assert re.fullmatch(r"scan-[0-9a-f]{12}", declared["CACHE"])
    assert 0 < declared["PAGE_WAIT_MS"] <= 10_000
    assert declared["PAGE_WAIT_MS"] == 4000  # the wait TICKETS.md promises
    # API calls and other methods are never answered by the worker
    assert 'if (request.method !== "GET") return;' in script
    for url in declared["FILES"]:
        assert (await client.get(url)).status_code == 200, url
