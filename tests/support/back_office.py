"""The back office in the tests: logging in, reading figures out of the dashboard HTML."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any
from zoneinfo import ZoneInfo

import httpx

VIEW_IDENTITIES = (
    "user",
    "event",
    "order",
    "ticket",
    "check-in",
    "outbox-message",
    "payment",
    "refund",
    "checkout",
    "provider-event",
)
"""Every record view of the back office, by its URL name."""

ROW = re.compile(r'<tr data-event-id="(?P<id>\d+)">(?P<cells>.*?)</tr>', re.DOTALL)
FIGURE = re.compile(r'data-figure="(?P<name>\w+)"(?P<attrs>[^>]*)>(?P<text>[^<]*)<')
DATA_ATTR = re.compile(r'data-(?P<name>cents|rate)="(?P<value>[^"]*)"')


def own_origin(client: httpx.AsyncClient) -> str:
    """The Origin a browser sends with the back office's own forms."""
    return f"{client.base_url.scheme}://{client.base_url.netloc.decode()}"


async def log_in(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    """Sign in as a browser does: the form posted from the back office's own page."""
    client.headers["Origin"] = own_origin(client)
    return await client.post(
        "/admin/login", data={"username": email, "password": password}, follow_redirects=False
    )


def figure_value(name: str, attrs: str, text: str) -> Any:
    """A figure as the page shows it: cents and rates from their data attributes, counts as ints."""
    extra = {m["name"]: m["value"] for m in DATA_ATTR.finditer(attrs)}
    if "cents" in extra:
        return int(extra["cents"])
    if "rate" in extra:
        return float(extra["rate"])
    text = html.unescape(text).strip()
    return int(text) if text.lstrip("-").isdigit() else text


def dashboard_rows(page: str) -> dict[int, dict[str, Any]]:
    """`{event_id: {figure: value}}` from the dashboard's events table."""
    rows = {}
    for row in ROW.finditer(page):
        rows[int(row["id"])] = {
            m["name"]: figure_value(m["name"], m["attrs"], m["text"]) for m in FIGURE.finditer(row["cells"])
        }
    return rows


def page_figures(page: str) -> dict[str, Any]:
    """`{figure: value}` of an event's page."""
    return {m["name"]: figure_value(m["name"], m["attrs"], m["text"]) for m in FIGURE.finditer(page)}


def event_form(**changes: str) -> dict[str, str]:
    """The back office's event form as a browser posts it (saved with the English button)."""
    starts = (dt.datetime.now(ZoneInfo("Europe/Paris")) + dt.timedelta(days=40)).replace(
        hour=20, minute=30, second=0, microsecond=0
    )
    form = {
        "title": "Jazz Night",
        "venue": "Blue Hall, Lyon",
        "description": "Quartet",
        "timezone": "Europe/Paris",
        "starts_at": starts.strftime("%Y-%m-%dT%H:%M"),
        "ends_at": "",
        "sales_start_at": "",
        "sales_end_at": "",
        "capacity": "120",
        "price_cents": "0",
        "currency": "EUR",
        "max_per_order": "4",
        "save": "Save",
    }
    form.update(changes)
    return form


def event_edit_form(event: dict[str, Any], **changes: str) -> dict[str, str]:
    """The edit form of an event (as the API returned it) in the venue's time, with `changes`."""
    local_start = dt.datetime.fromisoformat(event["starts_at"]).astimezone(ZoneInfo(event["timezone"]))
    fields = {
        "title": event["title"],
        "venue": event["venue"],
        "description": event["description"],
        "timezone": event["timezone"],
        "starts_at": local_start.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    return event_form(**fields | changes)
