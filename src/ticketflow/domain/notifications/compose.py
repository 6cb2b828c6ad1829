"""Turning a `Letter` into an e-mail: headers, plain text and HTML, QR codes, calendar file.

Layout of a ticket e-mail (what mail clients expect for inline images plus attachments):

    multipart/mixed
      multipart/alternative
        text/plain
        multipart/related
          text/html              <img src="cid:..."> per ticket
          image/png (inline)     one QR code per ticket
      image/png (attachment)     the same QR codes, to save or print
      text/calendar (event.ics)

Templates are Jinja2 with autoescaping for HTML, so names and titles are shown, never run.
Composing is CPU work (QR codes): the worker calls it in a thread.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from ticketflow.db.models.outbox import MessageKind
from ticketflow.domain.notifications.calendar import event_calendar
from ticketflow.domain.notifications.identity import MailIdentity, mail_address
from ticketflow.domain.notifications.letters import Letter
from ticketflow.domain.tickets.qr import qr_png
from ticketflow.lib.money import format_money

MAIL_POLICY = SMTP.clone(cte_type="7bit")
"""CRLF line ends, headers encoded per RFC 2047, bodies in quoted-printable or base64: any
relay accepts the message, whatever script the text is written in."""
CALENDAR_KINDS = frozenset({MessageKind.TICKETS, MessageKind.EVENT_CHANGED, MessageKind.EVENT_CANCELLED})


@functools.cache
def templates() -> Environment:
    return Environment(
        loader=PackageLoader("ticketflow.domain.notifications", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def event_zone(timezone: str) -> dt.tzinfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def long_date(moment: dt.datetime) -> str:
    return f"{moment:%A} {moment.day} {moment:%B %Y}"


def when_text(starts_at: dt.datetime, ends_at: dt.datetime | None, timezone: str) -> str:
    """`Saturday 14 March 2026, 20:00-23:00 (Europe/Paris)`, in the event's own time zone."""
    zone = event_zone(timezone)
    start = starts_at.astimezone(zone)
    text = f"{long_date(start)}, {start:%H:%M}"
    if ends_at is not None:
        end = ends_at.astimezone(zone)
        text += f"-{end:%H:%M}" if end.date() == start.date() else f" to {long_date(end)}, {end:%H:%M}"
    return f"{text} ({zone})"


def money_text(amount_cents: int, currency: str) -> str:
    """The order's price as the checkout page shows it (minor units per currency: 1500 JPY)."""
    return "free" if amount_cents == 0 else format_money(amount_cents, currency)


def subject_of(letter: Letter) -> str:
    title = letter.event.title
    match letter.kind:
        case MessageKind.TICKETS:
            count = len(letter.tickets)
            text = f"Your ticket for {title}" if count == 1 else f"Your {count} tickets for {title}"
            return f"{text} (sent again)" if letter.resend else text
        case MessageKind.TICKET_CANCELLED:
            return f"Ticket cancelled: {title}"
        case MessageKind.EVENT_CANCELLED:
            return f"Event cancelled: {title}"
        case MessageKind.EVENT_CHANGED:
            return f"Event changed: {title}"
    return title


@dataclass(frozen=True, slots=True)
class InlineImage:
    cid: str
    """With angle brackets, as in the Content-ID header."""
    filename: str
    png: bytes


def template_context(letter: Letter, images: list[InlineImage]) -> dict[str, Any]:
    event = letter.event
    previous = letter.previous
    previous_start = previous.get("starts_at")
    previous_end = previous.get("ends_at", event.ends_at.isoformat() if event.ends_at else None)
    return {
        "name": letter.recipient_name,
        "event": {
            "title": event.title,
            "venue": event.venue,
            "when": when_text(event.starts_at, event.ends_at, event.timezone),
        },
        "tickets": [
            {"number": number, "id": ticket.id, "code": ticket.code, "cid": image.cid[1:-1]}
            for number, (ticket, image) in enumerate(zip(letter.tickets, images, strict=False), 1)
        ],
        "ticket_count": len(letter.tickets),
        "ticket_ids": [ticket.id for ticket in letter.tickets],
        "order_id": letter.order_id,
        "price": money_text(letter.amount_cents, letter.currency),
        "resend": letter.resend,
        "refund_due": letter.refund_due,
        "time_changed": "starts_at" in letter.changed or "ends_at" in letter.changed,
        "venue_changed": "venue" in letter.changed,
        "previous_when": when_text(
            dt.datetime.fromisoformat(previous_start),
            dt.datetime.fromisoformat(previous_end) if previous_end else None,
            event.timezone,
        )
        if previous_start
        else None,
        "previous_venue": previous.get("venue"),
        "calendar_attached": letter.kind in CALENDAR_KINDS,
    }


def calendar_description(letter: Letter) -> str:
    if letter.event.cancelled:
        return "This event has been cancelled."
    count = len(letter.tickets)
    return f"{count} ticket{'s' if count != 1 else ''}; show the QR codes from your e-mail at the entrance."


def compose_message(letter: Letter, identity: MailIdentity, now: dt.datetime) -> EmailMessage:
    """The complete message for `letter`. Raises `InvalidAddress` for an unusable recipient."""
    message = EmailMessage(policy=MAIL_POLICY)
    message["Subject"] = identity.subject(subject_of(letter))
    message["From"] = identity.sender
    message["To"] = mail_address(letter.recipient, letter.recipient_name)
    message["Date"] = format_datetime(now.astimezone(dt.UTC))
    message["Message-ID"] = letter.message_id
    message["Auto-Submitted"] = "auto-generated"
    message["X-Ticketflow-Kind"] = letter.kind.value

    images = []
    if letter.kind == MessageKind.TICKETS:
        images = [
            InlineImage(
                cid=make_msgid(idstring=f"qr{ticket.id}", domain=identity.domain),
                filename=f"ticket-{ticket.id}.png",
                png=qr_png(ticket.code),
            )
            for ticket in letter.tickets
        ]
    context = template_context(letter, images)
    environment = templates()
    message.set_content(environment.get_template(f"{letter.kind}.txt").render(context))
    message.add_alternative(environment.get_template(f"{letter.kind}.html").render(context), subtype="html")
    if images:
        html_part = cast(EmailMessage, message.get_payload()[1])  # type: ignore[index]
        for image in images:
            html_part.add_related(
                image.png, "image", "png", cid=image.cid, disposition="inline", filename=image.filename
            )
        for image in images:
            message.add_attachment(image.png, "image", "png", filename=image.filename)
    if letter.kind in CALENDAR_KINDS:
        message.add_attachment(
            event_calendar(
                letter.event, domain=identity.domain, now=now, description=calendar_description(letter)
            ),
            "text",
            "calendar",
            filename="event.ics",
            params={"method": "PUBLISH", "charset": "utf-8"},
        )
    return message
