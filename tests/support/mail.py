"""Mail in the tests: a real SMTP server (aiosmtpd on loopback), worker passes, reading messages."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import io
import re
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from icalendar import Calendar
from litestar import Litestar
from litestar.testing import AsyncTestClient
from PIL import Image
from sqlalchemy import select

from tests.support.api import Actor, buy, make_actor, make_event
from tests.support.documents import qr_texts
from ticketflow.db.models.outbox import OutboxMessage
from ticketflow.domain.notifications.delivery import OutboxDelivery, PassReport
from ticketflow.domain.notifications.identity import MailIdentity
from ticketflow.domain.notifications.transports import build_transport
from ticketflow.lib.state import STATE_KEY, AppContext


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes

    def header(self, name: str) -> str:
        """A header decoded as RFC 2047 says (adjacent encoded words joined without the space
        that the `email` package's structured-header parser keeps)."""
        raw = email.message_from_bytes(self.content)[name]
        unfolded = re.sub(r"\r?\n[ \t]", " ", str(raw))
        return str(make_header(decode_header(unfolded))).strip()

    def parsed(self) -> EmailMessage:
        message = email.message_from_bytes(self.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        return message


@dataclass
class Inbox:
    """aiosmtpd handler: keeps every accepted message; refuses the addresses in `refuse`, and every
    message with `data_reply` when it is set (a reply such as `552 ...` or `451 ...`)."""

    messages: list[Received] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    data_reply: str | None = None

    async def handle_RCPT(  # noqa: N802 - aiosmtpd hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        if self.data_reply is not None:
            return self.data_reply
        content = envelope.original_content or envelope.content
        assert isinstance(content, bytes)
        self.messages.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), content))
        return "250 Message accepted for delivery"


class SmtpServer:
    """An SMTP server on a fixed loopback port that tests may stop and start again."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.inbox = Inbox()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def messages(self) -> list[Received]:
        return self.inbox.messages


@dataclass
class Bought:
    admin: Actor
    holder: Actor
    event: dict[str, Any]
    order: dict[str, Any]
    tickets: list[dict[str, Any]]


async def bought(
    client: AsyncTestClient[Litestar],
    db: Any,
    *,
    quantity: int = 1,
    holder_name: str | None = None,
    **event_fields: Any,
) -> Bought:
    """An admin's event (with `event_fields`) and a holder who bought `quantity` free tickets."""
    admin = await make_actor(client, db, role="admin")
    holder = await make_actor(client, db, **({"name": holder_name} if holder_name else {}))
    event = await make_event(client, admin, **event_fields)
    response = await buy(client, holder, event["id"], quantity=quantity)
    assert response.status_code == 201, response.text
    purchase = response.json()
    return Bought(admin, holder, event, purchase["order"], purchase["tickets"])


def app_context(app: Litestar) -> AppContext:
    context: AppContext = app.state[STATE_KEY]
    return context


def delivery_for(context: AppContext, **overrides: Any) -> OutboxDelivery:
    settings = context.settings.with_overrides(**overrides) if overrides else context.settings
    return OutboxDelivery(
        context.session_maker, settings, build_transport(settings), MailIdentity.from_settings(settings)
    )


async def worker_pass(worker: AppContext, now: dt.datetime | None = None, **overrides: Any) -> PassReport:
    """One delivery pass, as `ticketflow worker` runs it (optionally at a later `now`)."""
    return await delivery_for(worker, **overrides).run_once(now)


async def outbox_rows(db: Any) -> list[OutboxMessage]:
    async with db() as session:
        return list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def qr_codes_inline(message: EmailMessage) -> dict[str, str]:
    """Content-ID (without brackets) -> text decoded from the inline PNG by a real QR reader."""
    found = {}
    for part in message.walk():
        if part.get_content_type() == "image/png" and part.get_content_disposition() == "inline":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            results = qr_texts(Image.open(io.BytesIO(payload)))
            assert len(results) == 1
            found[str(part["Content-ID"]).strip("<>")] = results[0]
    return found


def attachments(message: EmailMessage, content_type: str) -> list[EmailMessage]:
    return [
        part
        for part in message.iter_attachments()
        if part.get_content_type() == content_type and part.get_content_disposition() == "attachment"
    ]


def calendar_event(message: EmailMessage) -> Any:
    (part,) = attachments(message, "text/calendar")
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    calendar = Calendar.from_ical(payload)
    (event,) = calendar.walk("VEVENT")
    return event


def subject(message: EmailMessage) -> str:
    """The Subject as a mail client shows it (folding whitespace at the start trimmed)."""
    return str(message["Subject"]).strip()


def body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None
    assert part.get_content_type() == f"text/{subtype}"
    return str(part.get_content())
