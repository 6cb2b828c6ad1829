"""Ticket codes: the string printed in the QR code.

Format `tf1.<43 URL-safe characters>`: a version prefix and 256 bits from `secrets` (CSPRNG), so a
code is unguessable, unique in practice (and by a unique index), and says nothing about ids or
e-mails. Signed `tf2.` codes (lib/signed_codes.py) carry their ticket and a signature a scanner
checks offline; `tf1.` codes already issued stay valid online.
"""

from __future__ import annotations

import re
import secrets

from ticketflow.lib.signed_codes import SIGNED_CODE_PATTERN

CODE_VERSION = "tf1"
CODE_RANDOM_BYTES = 32
CODE_PATTERN = re.compile(r"^tf1\.[A-Za-z0-9_-]{43}$")


def new_ticket_code() -> str:
    return f"{CODE_VERSION}.{secrets.token_urlsafe(CODE_RANDOM_BYTES)}"


def looks_like_ticket_code(text: str) -> bool:
    """True when `text` has the exact shape of a `tf1.` or `tf2.` code (no database needed)."""
    return CODE_PATTERN.fullmatch(text) is not None or SIGNED_CODE_PATTERN.fullmatch(text) is not None
