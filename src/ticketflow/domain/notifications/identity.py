"""Who mails, and safe header values: nothing a user typed can add or split a header.

Names and titles are refused with CR/LF at the API already; here every header value is built by
the `email` package (which also refuses CR/LF) from text whose control characters were turned
into spaces, and every address is parsed and must come back unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.utils import parseaddr

from ticketflow.settings import Settings, SettingsError

UNSAFE_IN_HEADERS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")
"""Control characters and Unicode line breaks: never part of a header value."""
SUBJECT_MAX = 200
DISPLAY_NAME_MAX = 120


class InvalidAddress(ValueError):
    """An e-mail address that cannot be written into a header as it is."""


def header_text(value: str, limit: int = SUBJECT_MAX) -> str:
    """`value` on one line: control characters and line breaks become single spaces."""
    return " ".join(UNSAFE_IN_HEADERS.sub(" ", value).split())[:limit]


def mail_address(email: str, name: str = "") -> Address:
    """An `Address` for `email` (display name `name`); `InvalidAddress` unless it round-trips."""
    if UNSAFE_IN_HEADERS.search(email) or email.count("@") != 1:
        msg = f"not a single e-mail address: {email!r}"
        raise InvalidAddress(msg)
    local, domain = email.rsplit("@", 1)
    if not local.isascii():
        msg = f"a non-ASCII mailbox name needs SMTPUTF8, which is not supported: {email!r}"
        raise InvalidAddress(msg)
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
        address = Address(
            display_name=header_text(name, DISPLAY_NAME_MAX), username=local, domain=ascii_domain
        )
    except (ValueError, UnicodeError, HeaderParseError) as exc:
        msg = f"not a deliverable e-mail address: {email!r} ({exc})"
        raise InvalidAddress(msg) from exc
    if address.addr_spec != f"{local}@{ascii_domain}":
        msg = f"not a plain e-mail address: {email!r}"
        raise InvalidAddress(msg)
    return address


@dataclass(frozen=True, slots=True)
class MailIdentity:
    """The sender of every message, and the domain of Message-IDs and calendar UIDs."""

    sender: Address
    subject_prefix: str

    @property
    def domain(self) -> str:
        return self.sender.domain

    @classmethod
    def from_settings(cls, settings: Settings) -> MailIdentity:
        name, address = parseaddr(settings.mail_from)
        try:
            sender = mail_address(address, name)
        except InvalidAddress as exc:
            msg = f"MAIL_FROM must be an address like 'Ticket-Flow <tickets@example.com>': {exc}"
            raise SettingsError(msg) from exc
        return cls(sender=sender, subject_prefix=header_text(settings.mail_subject_prefix, 60))

    def subject(self, text: str) -> str:
        return header_text(f"{self.subject_prefix} {text}" if self.subject_prefix else text)
