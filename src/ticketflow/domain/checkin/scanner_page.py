"""GET /scan: the door's scanner page, and its assets (served by the app: no CDN).

The page is one HTML document, one stylesheet and one script module (`static/scan/`); the QR
decoder for browsers without `BarcodeDetector` is the vendored jsQR (`static/scan/vendor/jsqr/`,
with its licence). The page itself is public: the API calls it makes carry the door's token.

A service worker (`GET /scan-worker.js`, scope `/scan`) keeps the page and its files on the
phone: reloaded, or opened again, while the server cannot be reached, the page comes from there
and goes on deciding offline with the bundle it holds. It touches no API call.

Every text on the page is in `PAGE_TEXTS`, translated through the catalogues into the language
of the browser's `Accept-Language`: the HTML is rendered from it on the server and the script
reads the same texts from a JSON data block. The Content-Security-Policy allows nothing but the
app's own files: no inline script or style, no `eval` (jsQR needs neither).
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import MediaType, Request, Response, get
from litestar.datastructures import CacheControlHeader
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

from ticketflow.lib.access import PUBLIC_ROUTE
from ticketflow.lib.i18n import N_, gettext_for, request_locale

STATIC_DIR = Path(__file__).parent / "static" / "scan"
STATIC_PATH = "/static/scan"
PAGE_PATH = "/scan"
WORKER_PATH = "/scan-worker.js"
"""The service worker's own address: at the root, so that its scope may be `/scan`."""
WORKER_PAGE_WAIT_MS = 4000
"""How long the worker waits for the server's page before it opens the one it holds."""
ASSETS = {"css": "scan.css", "js": "scan.js", "jsqr": "vendor/jsqr/jsQR.js", "offline": "offline.js"}
ASSET_MAX_AGE = 7 * 24 * 3600
"""Assets are addressed with a hash of their content (`?v=`), so a week of caching is safe."""

PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; media-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=()",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}

PAGE_TEXTS: dict[str, str] = {
    "title": N_("Ticket scanner"),
    "sign_in_heading": N_("Sign in to scan"),
    "email": N_("E-mail"),
    "password": N_("Password"),
    "sign_in": N_("Sign in"),
    "signing_in": N_("Signing in…"),
    "sign_in_failed": N_("Wrong e-mail or password."),
    "sign_in_throttled": N_("Too many attempts. Wait a minute and try again."),
    "role_refused": N_("This account may not scan tickets. Use a door staff or admin account."),
    "session_expired": N_("Your session has ended. Sign in again."),
    "pairing": N_("Pairing this device…"),
    "pairing_failed": N_("This pairing link is not valid any more. Ask the organiser for a new one."),
    "pairing_unreachable": N_(
        "The server cannot be reached: this phone was not paired. Open the link again once it can."
    ),
    "scanner_revoked": N_(
        "This scanner was revoked or has expired. Ask the organiser for a new pairing link."
    ),
    "paired_as": N_("Scanner"),
    "choose_event_heading": N_("Which event?"),
    "event": N_("Event"),
    "gate": N_("Gate"),
    "any_gate": N_("No gate"),
    "no_events": N_("No events to scan."),
    "start_scanning": N_("Start scanning"),
    "change_event": N_("Change event"),
    "sign_out": N_("Sign out"),
    "camera_starting": N_("Starting the camera…"),
    "camera_unavailable": N_("No camera: type the code below."),
    "camera_insecure": N_("The camera needs HTTPS (or localhost). Type the code below."),
    "camera_denied": N_(
        "Camera access was refused. Allow it in the browser settings, or type the code below."
    ),
    "manual_code": N_("Ticket code"),
    "manual_submit": N_("Check"),
    "direction": N_("Direction"),
    "direction_in": N_("In"),
    "direction_out": N_("Out"),
    "admitted": N_("Admitted"),
    "refused": N_("Refused"),
    "inside": N_("Inside"),
    "this_device": N_("This device"),
    "gate_counts": N_("Gate"),
    "checking": N_("Checking…"),
    "valid": N_("Admit"),
    "already_used": N_("Already used"),
    "already_used_at": N_("First admitted at %(time)s"),
    "invalid": N_("Do not admit"),
    "exited": N_("Exit recorded"),
    "reason_unknown": N_("Unknown code: not a ticket of this system."),
    "reason_cancelled": N_("This ticket was cancelled."),
    "reason_unpaid": N_("This ticket is not paid."),
    "reason_wrong_event": N_("This ticket is for another event."),
    "reason_event_cancelled": N_("The event was cancelled."),
    "reason_wrong_gate": N_("This ticket is not admitted at this gate."),
    "reason_transferred": N_("This ticket was transferred: its new holder has a new code."),
    "reason_other": N_("Refused."),
    "offline": N_("Server unreachable"),
    "offline_detail": N_("The scan was not recorded. Check the connection and try again."),
    "offline_mode": N_("Offline: codes are checked on this device."),
    "offline_checked": N_("Checked on this device (offline)"),
    "waiting_scans": N_("Scans waiting to be sent: %(count)s"),
    "bundle_from": N_("Ticket list of %(time)s: cancellations since are not known here."),
    "reason_revoked": N_("This code was revoked (ticket cancelled or reissued)."),
    "retry": N_("Try again"),
    "server_error": N_("The server could not check this code."),
    "tap_to_continue": N_("Tap to continue"),
    "ticket_type": N_("Ticket type"),
}
"""The page's texts in English, by key (the script reads them by the same keys); each request
gets them in the language its `Accept-Language` prefers. `%(time)s` is filled in by the script."""

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


@functools.cache
def asset_url(name: str) -> str:
    """The address of a static asset with a short hash of its content (new file, new address)."""
    digest = hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]
    return f"{STATIC_PATH}/{name}?v={digest}"


def page_texts(locale: str) -> dict[str, str]:
    translate = gettext_for(locale)
    return {key: translate(text) for key, text in PAGE_TEXTS.items()}


@functools.cache
def render_page(locale: str) -> str:
    texts = page_texts(locale)
    return _templates.get_template("scan.html").render(
        lang=locale,
        t=texts,
        texts=texts,
        assets={key: asset_url(name) for key, name in ASSETS.items()},
        worker=WORKER_PATH,
        scope=PAGE_PATH,
    )


@functools.cache
def render_worker() -> str:
    """The service worker's script: the page's files by their hashed addresses, in a cache named
    after them (new files: a new script, which the browser installs, and the old cache goes)."""
    files = [asset_url(name) for name in ASSETS.values()]
    cache = "scan-" + hashlib.sha256("\n".join(files).encode()).hexdigest()[:12]
    return _templates.get_template("scan-worker.js").render(
        cache=cache, page=PAGE_PATH, files=files, page_wait_ms=WORKER_PAGE_WAIT_MS
    )


@get(
    PAGE_PATH,
    opt=PUBLIC_ROUTE,
    include_in_schema=False,
    media_type=MediaType.HTML,
    sync_to_thread=False,
)
def scanner_page(request: Request[Any, Any, Any]) -> Response[str]:
    """The scanner page for door staff and paired scanner devices, in the browser's language."""
    locale = str(request_locale(request))
    headers = {**PAGE_HEADERS, "Content-Language": locale, "Vary": "Accept-Language"}
    return Response(render_page(locale), media_type=MediaType.HTML, headers=headers)


@get(WORKER_PATH, opt=PUBLIC_ROUTE, include_in_schema=False, sync_to_thread=False)
def scanner_page_worker() -> Response[str]:
    """The scanner page's service worker (asked for again by the browser with every page load)."""
    headers = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
    return Response(render_worker(), media_type="text/javascript; charset=utf-8", headers=headers)


def scanner_page_handlers() -> list[ControllerRouterHandler]:
    """The page, its service worker and its static files."""
    return [
        scanner_page,
        scanner_page_worker,
        create_static_files_router(
            path=STATIC_PATH,
            directories=[STATIC_DIR],
            include_in_schema=False,
            opt=PUBLIC_ROUTE,
            cache_control=CacheControlHeader(public=True, max_age=ASSET_MAX_AGE),
            name="scanner-assets",
        ),
    ]
