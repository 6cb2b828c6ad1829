"""Who mails: the sender of every message (safe header values and addresses: `lib/mail_addresses.py`).

Names and titles are refused with CR/LF at the API already; every header value is built by the
`email` package (which also refuses CR/LF) from text whose control characters were turned into
spaces, and every address is parsed and must come back unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.headerregistry import Address
from email.utils import parseaddr

from ticketflow.lib.mail_addresses import InvalidAddress, header_text, mail_address
from ticketflow.settings import Settings, SettingsError


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
