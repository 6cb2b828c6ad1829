"""Ticket codes: the string printed in the QR code.

Format `tf1.<43 URL-safe characters>`: a version prefix and 256 bits from `secrets` (CSPRNG), so a
code is unguessable, unique in practice (and by a unique index), and says nothing about ids or
e-mails. The prefix leaves room for a later offline-verifiable form (e.g. `tf2.` with an Ed25519
signature) without breaking tickets already issued.
"""

from __future__ import annotations

import re
import secrets

CODE_VERSION = "tf1"
CODE_RANDOM_BYTES = 32
CODE_PATTERN = re.compile(r"^tf1\.[A-Za-z0-9_-]{43}$")


def new_ticket_code() -> str:
    return f"{CODE_VERSION}.{secrets.token_urlsafe(CODE_RANDOM_BYTES)}"


def looks_like_ticket_code(text: str) -> bool:
    """True when `text` has the shape of a code this version issues (no database needed)."""
    return CODE_PATTERN.fullmatch(text) is not None
