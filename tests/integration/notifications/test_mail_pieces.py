"""The small pieces of mail delivery, without a database: backoff, header safety, dates."""

from __future__ import annotations

import datetime as dt
import random
from email.message import EmailMessage

import pytest

from tests.support.databases import settings_for_tests
from ticketflow.db.models.events import Event
from ticketflow.db.models.outbox import MessageKind
from ticketflow.domain.notifications.compose import money_text, printed_ticket, when_text
from ticketflow.domain.notifications.delivery import retry_delay
from ticketflow.domain.notifications.identity import MailIdentity
from ticketflow.domain.notifications.letters import EventFacts
from ticketflow.domain.notifications.outbox import OutboxNotifier
from ticketflow.domain.notifications.statements import INSERT_MESSAGE, OUTBOX_COLUMNS
from ticketflow.domain.notifications.transports import eml_file_name
from ticketflow.lib.mail_addresses import InvalidAddress, header_text, mail_address
from ticketflow.settings import SettingsError


def test_retry_delay_grows_exponentially_with_jitter_up_to_the_cap() -> None:
    rng = random.Random(7)
    for attempt in range(1, 12):
        ceiling = min(3600.0, 60.0 * 2 ** (attempt - 1))
        delays = [retry_delay(attempt, base=60.0, cap=3600.0, rng=rng) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len({round(d, 3) for d in delays}) > 150  # jittered, not one fixed value
    assert retry_delay(1, base=60.0, cap=3600.0, rng=rng) < 60.0
    assert retry_delay(30, base=60.0, cap=3600.0, rng=rng) <= 3600.0


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Gig\r\nBcc: x@y.z", "Gig Bcc: x@y.z"),
        ("a\nb\rc\x00d\x1be\x7ff", "a b c d e f"),
        ("line\u2028separator\u2029and\x85next", "line separator and next"),
        ("  plenty   of   spaces  ", "plenty of spaces"),
        ("東京 コンサート", "東京 コンサート"),
    ],
)
def test_header_text_is_always_one_line(raw: str, expected: str) -> None:
    assert header_text(raw) == expected


@pytest.mark.parametrize(
    "address",
    ["x", "a@b@c.de", "a b@c.de", "a@b.c>\r\nBcc: v@x.y", "ünï@example.com", "a@b.c\nBcc: d@e.f", ""],
)
def test_mail_address_refuses_anything_but_one_plain_address(address: str) -> None:
    with pytest.raises(InvalidAddress):
        mail_address(address, "Name")


def test_mail_address_keeps_names_and_encodes_international_domains() -> None:
    address = mail_address("ada@bücher.example", "Ada\r\nBcc: x@y.z")
    assert address.addr_spec == "ada@xn--bcher-kva.example"
    assert address.display_name == "Ada Bcc: x@y.z"
    message = EmailMessage()
    message["To"] = address
    assert str(message["To"]).count("@") == 2  # the display name is quoted, one address only
    assert len(message["To"].addresses) == 1


@pytest.mark.parametrize("mail_from", ["not an address", "Tickets <a@b@c>", ""])
def test_an_unusable_sender_is_refused_at_startup(mail_from: str) -> None:
    with pytest.raises(SettingsError):
        MailIdentity.from_settings(settings_for_tests("sqlite+aiosqlite:///:memory:", mail_from=mail_from))


def test_sender_subject_prefix_and_domain() -> None:
    settings = settings_for_tests(
        "sqlite+aiosqlite:///:memory:", mail_from="Box Office <box@tickets.example>"
    )
    identity = MailIdentity.from_settings(settings.with_overrides(mail_subject_prefix="[Shows]\r\n"))
    assert identity.domain == "tickets.example"
    assert identity.subject("Your ticket") == "[Shows] Your ticket"
    assert MailIdentity.from_settings(settings.with_overrides(mail_subject_prefix="")).subject("Hi") == "Hi"


def test_when_text_uses_the_events_time_zone() -> None:
    start = dt.datetime(2030, 7, 1, 18, 30, tzinfo=dt.UTC)
    assert when_text(start, None, "Europe/Paris") == "Monday 1 July 2030, 20:30 (Europe/Paris)"
    assert (
        when_text(start, start + dt.timedelta(hours=2), "America/New_York")
        == "Monday 1 July 2030, 14:30-16:30 (America/New_York)"
    )
    assert (
        when_text(start, start + dt.timedelta(hours=8), "Asia/Tokyo")
        == "Tuesday 2 July 2030, 03:30-11:30 (Asia/Tokyo)"
    )
    assert (
        when_text(start, start + dt.timedelta(days=2), "UTC")
        == "Monday 1 July 2030, 18:30 to Wednesday 3 July 2030, 18:30 (UTC)"
    )


def test_the_download_and_the_mail_print_the_same_page_of_a_ticket() -> None:
    """The API's PDF reads the event model, the e-mail's PDF the letter's facts: one builder."""
    start = dt.datetime(2030, 7, 1, 18, 30, tzinfo=dt.UTC)
    event = Event(title="Gala", venue="Opera", starts_at=start, ends_at=None, timezone="Europe/Paris")
    pages = [
        printed_ticket(ticket_id=5, code="tf1.x", order_id=3, attendee_name="Ada", event=shown, locale="es")
        for shown in (event, EventFacts.of(event, sequence=0))
    ]
    assert pages[0] == pages[1]
    assert (pages[0].event_title, pages[0].venue, pages[0].attendee_name) == ("Gala", "Opera", "Ada")
    spanish = when_text(start, None, "Europe/Paris", "es")
    assert pages[0].when == spanish != when_text(start, None, "Europe/Paris")


def test_prices_are_written_in_each_currencys_minor_units() -> None:
    """The e-mail shows the amount the checkout page showed (JPY has no cents, KWD has three)."""
    assert money_text(0, "EUR") == "free"
    assert money_text(2500, "EUR") == "25.00 EUR"
    assert money_text(1500, "JPY") == "1,500 JPY"
    assert money_text(12345, "KWD") == "12.345 KWD"


def test_eml_file_names_are_safe() -> None:
    message = EmailMessage()
    message["Message-ID"] = "<../../etc/passwd.abc@example.com>"
    message["X-Ticketflow-Kind"] = "tickets/../x"
    assert eml_file_name(message) == "ticketsx-etcpasswdabc.eml"


def test_the_driver_insert_names_every_column_of_a_message_in_order() -> None:
    notifier = OutboxNotifier(MailIdentity.from_settings(settings_for_tests("sqlite+aiosqlite:///:memory:")))
    (row,) = notifier._rows(MessageKind.TICKETS, [(1, "a@example.com", "A")], event_id=2, order_id=3)
    assert tuple(row) == OUTBOX_COLUMNS
    assert INSERT_MESSAGE.count("%s") == len(OUTBOX_COLUMNS)
