"""Turning a `Letter` into an e-mail: headers, plain text and HTML, QR codes, calendar file.

Layout of a ticket e-mail (what mail clients expect for inline images plus attachments):

    multipart/mixed
      multipart/alternative
        text/plain
        multipart/related
          text/html              <img src="cid:..."> per ticket
          image/png (inline)     one QR code per ticket
      image/png (attachment)     the same QR codes, to save or print
      application/pdf            the order's printable tickets, a page each
      text/calendar (event.ics)

Templates are Jinja2 with autoescaping for HTML, so names and titles are shown, never run.
Composing is CPU work (QR codes, the PDF): the worker calls it in a thread.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from typing import Any, Protocol, cast

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from ticketflow.db.models.outbox import MessageKind
from ticketflow.db.models.ticket_types import DEFAULT_TYPE_NAME
from ticketflow.db.models.tickets import attendee_or_holder
from ticketflow.domain.notifications.calendar import calendar_method, event_calendar
from ticketflow.domain.notifications.identity import MailIdentity
from ticketflow.domain.notifications.letters import Letter
from ticketflow.lib.i18n import (
    N_,
    format_date,
    format_time,
    gettext_for,
    install_i18n,
    locale_variable,
    ngettext_for,
    translated,
    zone_of,
)
from ticketflow.lib.mail_addresses import mail_address
from ticketflow.lib.money import format_money
from ticketflow.lib.qr import qr_png
from ticketflow.lib.ticket_pdf import ENGLISH as PDF_WORDING
from ticketflow.lib.ticket_pdf import PrintedTicket, ticket_pdf

MAIL_POLICY = SMTP.clone(cte_type="7bit")
"""CRLF line ends, headers encoded per RFC 2047, bodies in quoted-printable or base64: any
relay accepts the message, whatever script the text is written in."""
CALENDAR_KINDS = frozenset(
    {MessageKind.TICKETS, MessageKind.TICKET_RECEIVED, MessageKind.EVENT_CHANGED, MessageKind.EVENT_CANCELLED}
)
TICKET_KINDS = frozenset({MessageKind.TICKETS, MessageKind.TICKET_RECEIVED})
"""Messages that carry the tickets themselves: QR codes inline and attached, and the PDF."""


@functools.cache
def templates() -> Environment:
    """The e-mail templates; each render speaks the `locale` it is given."""
    environment = Environment(
        loader=PackageLoader("ticketflow.domain.notifications", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    install_i18n(environment, locale_variable)
    return environment


def when_text(starts_at: dt.datetime, ends_at: dt.datetime | None, timezone: str, locale: str = "en") -> str:
    """`Saturday 14 March 2026, 20:00-23:00 (Europe/Paris)`, in the event's own time zone."""
    _ = gettext_for(locale)
    zone = zone_of(timezone)
    text = f"{format_date(starts_at, timezone, locale)}, {format_time(starts_at, timezone, locale)}"
    if ends_at is not None:
        end = f"{format_time(ends_at, timezone, locale)}"
        if ends_at.astimezone(zone).date() == starts_at.astimezone(zone).date():
            text += f"-{end}"
        else:
            text = _("%(start)s to %(end)s") % {
                "start": text,
                "end": f"{format_date(ends_at, timezone, locale)}, {end}",
            }
    return f"{text} ({zone})"


def money_text(amount_cents: int, currency: str, locale: str = "en") -> str:
    """The order's price as the checkout page shows it (minor units per currency: 1500 JPY)."""
    _ = gettext_for(locale)
    return _("free") if amount_cents == 0 else format_money(amount_cents, currency, locale)


def subject_of(letter: Letter) -> str:
    _, ngettext = gettext_for(letter.locale), ngettext_for(letter.locale)
    values = {"title": letter.event.title, "count": len(letter.tickets)}
    match letter.kind:
        case MessageKind.TICKETS:
            if letter.reissued:
                return (
                    ngettext(
                        "New code for your ticket for %(title)s",
                        "New codes for your %(count)d tickets for %(title)s",
                        len(letter.tickets),
                    )
                    % values
                )
            if letter.resend:
                return (
                    ngettext(
                        "Your ticket for %(title)s (sent again)",
                        "Your %(count)d tickets for %(title)s (sent again)",
                        len(letter.tickets),
                    )
                    % values
                )
            return (
                ngettext(
                    "Your ticket for %(title)s", "Your %(count)d tickets for %(title)s", len(letter.tickets)
                )
                % values
            )
        case MessageKind.TICKET_CANCELLED:
            return _("Ticket cancelled: %(title)s") % values
        case MessageKind.EVENT_CANCELLED:
            return _("Event cancelled: %(title)s") % values
        case MessageKind.EVENT_CHANGED:
            return _("Event changed: %(title)s") % values
        case MessageKind.TICKET_TRANSFERRED:
            return _("Ticket transferred: %(title)s") % values
        case MessageKind.TICKET_RECEIVED:
            return _("A ticket for %(title)s was transferred to you") % values
    return letter.event.title


@dataclass(frozen=True, slots=True)
class InlineImage:
    cid: str
    """With angle brackets, as in the Content-ID header."""
    filename: str
    png: bytes


def template_context(letter: Letter, images: list[InlineImage]) -> dict[str, Any]:
    event, locale = letter.event, letter.locale
    previous = letter.previous
    previous_start = previous.get("starts_at")
    previous_end = previous.get("ends_at", event.ends_at.isoformat() if event.ends_at else None)
    return {
        "locale": locale,
        "name": letter.recipient_name,
        "event": {
            "title": event.title,
            "venue": event.venue,
            "when": when_text(event.starts_at, event.ends_at, event.timezone, locale),
        },
        "tickets": [
            {
                "number": number,
                "id": ticket.id,
                "code": ticket.code,
                "cid": image.cid[1:-1],
                "type_name": type_name_in(ticket.type_name, locale) or "",
            }
            for number, (ticket, image) in enumerate(zip(letter.tickets, images, strict=False), 1)
        ],
        "ticket_count": len(letter.tickets),
        "ticket_ids": [ticket.id for ticket in letter.tickets],
        "order_id": letter.order_id,
        "price": money_text(letter.amount_cents, letter.currency, locale),
        "resend": letter.resend,
        "reissued": letter.reissued,
        "refund_due": letter.refund_due,
        "time_changed": "starts_at" in letter.changed or "ends_at" in letter.changed,
        "venue_changed": "venue" in letter.changed,
        "previous_when": when_text(
            dt.datetime.fromisoformat(previous_start),
            dt.datetime.fromisoformat(previous_end) if previous_end else None,
            event.timezone,
            locale,
        )
        if previous_start
        else None,
        "previous_venue": previous.get("venue"),
        "calendar_attached": letter.kind in CALENDAR_KINDS,
        "other_party": letter.other_party,
    }


def calendar_description(letter: Letter) -> str:
    _, ngettext = gettext_for(letter.locale), ngettext_for(letter.locale)
    if letter.event.cancelled:
        return _("This event has been cancelled.")
    count = len(letter.tickets)
    return ngettext(
        "%(count)d ticket; show the QR code from your e-mail at the entrance.",
        "%(count)d tickets; show the QR codes from your e-mail at the entrance.",
        count,
    ) % {"count": count}


class PrintableEvent(Protocol):
    """What a printed ticket shows of its event: the model or the `EventFacts` of a letter."""

    @property
    def title(self) -> str: ...
    @property
    def venue(self) -> str: ...
    @property
    def starts_at(self) -> dt.datetime: ...
    @property
    def ends_at(self) -> dt.datetime | None: ...
    @property
    def timezone(self) -> str: ...


def printed_ticket(
    *,
    ticket_id: int,
    code: str,
    order_id: int,
    attendee_name: str,
    event: PrintableEvent,
    locale: str,
    type_name: str | None = None,
) -> PrintedTicket:
    """One page of a PDF ticket, in the reader's language: the one builder for the API's
    download and the order e-mail's attachment."""
    return PrintedTicket(
        ticket_id=ticket_id,
        code=code,
        event_title=event.title,
        venue=event.venue,
        when=when_text(event.starts_at, event.ends_at, event.timezone, locale),
        attendee_name=attendee_name,
        order_id=order_id,
        ticket_type=type_name_in(type_name, locale) or None,
    )


GENERAL_ADMISSION = N_("General admission")
"""The name of the type an event made the old way gets (`DEFAULT_TYPE_NAME`), in the catalogues."""


def type_name_in(name: str | None, locale: str) -> str | None:
    """A ticket type's name as a holder reads it: the default type's in the reader's language
    (a name the organiser gave is shown as typed)."""
    return gettext_for(locale)(GENERAL_ADMISSION) if name == DEFAULT_TYPE_NAME else name


def printed_tickets(letter: Letter) -> list[PrintedTicket]:
    """The pages of the order's PDF: each ticket with its attendee, else the recipient."""
    return [
        printed_ticket(
            ticket_id=ticket.id,
            code=ticket.code,
            order_id=letter.order_id or 0,
            attendee_name=attendee_or_holder(ticket.attendee_name, letter.recipient_name),
            event=letter.event,
            locale=letter.locale,
            type_name=ticket.type_name,
        )
        for ticket in letter.tickets
    ]


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
    if letter.kind in TICKET_KINDS:
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
        message.add_attachment(
            ticket_pdf(printed_tickets(letter), translated(PDF_WORDING, letter.locale)),
            "application",
            "pdf",
            filename=f"tickets-order-{letter.order_id}.pdf",
        )
    if letter.kind in CALENDAR_KINDS:
        message.add_attachment(
            event_calendar(
                letter.event,
                organizer=identity.sender,
                attendee=message["To"].addresses[0],
                now=now,
                description=calendar_description(letter),
            ),
            "text",
            "calendar",
            filename="event.ics",
            params={"method": calendar_method(letter.event), "charset": "utf-8"},
        )
    return message
