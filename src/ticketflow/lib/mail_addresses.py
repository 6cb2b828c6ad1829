"""E-mail addresses and header values as the mailer writes them: nothing a user typed can add or
split a header, and an address is accepted only when it comes back unchanged from the `email`
package (the mailer's own rule, also applied when an account is created, so no account is made
with an address no e-mail can reach)."""

from __future__ import annotations

import re
from email.errors import HeaderParseError
from email.headerregistry import Address

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
