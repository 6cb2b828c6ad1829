"""GET /scan: the door's scanner page, and its assets (served by the app: no CDN).

The page is one HTML document, one stylesheet and one script module (`static/scan/`); the QR
decoder for browsers without `BarcodeDetector` is the vendored jsQR (`static/scan/vendor/jsqr/`,
with its licence). The page itself is public: the API calls it makes carry the door's token.

Every text on the page is in `PAGE_TEXTS`: the HTML is rendered from it on the server and the
script reads the same texts from a JSON data block, so translating the page means translating
that one dictionary. The Content-Security-Policy allows nothing but the app's own files: no
inline script or style, no `eval` (jsQR needs neither).
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import MediaType, Response, get
from litestar.datastructures import CacheControlHeader
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

from ticketflow.domain.accounts.auth import EXCLUDE_FROM_AUTH

STATIC_DIR = Path(__file__).parent / "static" / "scan"
STATIC_PATH = "/static/scan"
ASSETS = {"css": "scan.css", "js": "scan.js", "jsqr": "vendor/jsqr/jsQR.js"}
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
    "title": "Ticket scanner",
    "sign_in_heading": "Sign in to scan",
    "email": "E-mail",
    "password": "Password",
    "sign_in": "Sign in",
    "signing_in": "Signing in…",
    "sign_in_failed": "Wrong e-mail or password.",
    "sign_in_throttled": "Too many attempts. Wait a minute and try again.",
    "role_refused": "This account may not scan tickets. Use a door staff or admin account.",
    "session_expired": "Your session has ended. Sign in again.",
    "pairing": "Pairing this device…",
    "pairing_failed": "This pairing link is not valid any more. Ask the organiser for a new one.",
    "paired_as": "Scanner",
    "choose_event_heading": "Which event?",
    "event": "Event",
    "gate": "Gate",
    "any_gate": "No gate",
    "no_events": "No events to scan.",
    "start_scanning": "Start scanning",
    "change_event": "Change event",
    "sign_out": "Sign out",
    "camera_starting": "Starting the camera…",
    "camera_unavailable": "No camera: type the code below.",
    "camera_insecure": "The camera needs HTTPS (or localhost). Type the code below.",
    "camera_denied": "Camera access was refused. Allow it in the browser settings, or type the code below.",
    "manual_code": "Ticket code",
    "manual_submit": "Check",
    "direction": "Direction",
    "direction_in": "In",
    "direction_out": "Out",
    "admitted": "Admitted",
    "refused": "Refused",
    "inside": "Inside",
    "this_device": "This device",
    "gate_counts": "Gate",
    "checking": "Checking…",
    "valid": "Admit",
    "already_used": "Already used",
    "already_used_at": "First admitted at %(time)s",
    "invalid": "Do not admit",
    "exited": "Exit recorded",
    "reason_unknown": "Unknown code: not a ticket of this system.",
    "reason_cancelled": "This ticket was cancelled.",
    "reason_unpaid": "This ticket is not paid.",
    "reason_wrong_event": "This ticket is for another event.",
    "reason_event_cancelled": "The event was cancelled.",
    "reason_wrong_gate": "This ticket is not admitted at this gate.",
    "reason_transferred": "This ticket was transferred: its new holder has a new code.",
    "reason_other": "Refused.",
    "offline": "Server unreachable",
    "offline_detail": "The scan was not recorded. Check the connection and try again.",
    "retry": "Try again",
    "server_error": "The server could not check this code.",
    "tap_to_continue": "Tap to continue",
    "ticket_type": "Ticket type",
}
"""The page's texts, by key (the script reads them by the same keys); `%(time)s` is filled in."""

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


@functools.cache
def render_page() -> str:
    return _templates.get_template("scan.html").render(
        lang="en",
        t=PAGE_TEXTS,
        texts=PAGE_TEXTS,
        assets={key: asset_url(name) for key, name in ASSETS.items()},
    )


@get(
    "/scan",
    opt=EXCLUDE_FROM_AUTH,
    include_in_schema=False,
    media_type=MediaType.HTML,
    sync_to_thread=False,
)
def scanner_page() -> Response[str]:
    """The scanner page for door staff and paired scanner devices."""
    return Response(render_page(), media_type=MediaType.HTML, headers=PAGE_HEADERS)


def scanner_page_handlers() -> list[ControllerRouterHandler]:
    """The page and its static files."""
    return [
        scanner_page,
        create_static_files_router(
            path=STATIC_PATH,
            directories=[STATIC_DIR],
            include_in_schema=False,
            opt=EXCLUDE_FROM_AUTH,
            cache_control=CacheControlHeader(public=True, max_age=ASSET_MAX_AGE),
            name="scanner-assets",
        ),
    ]
