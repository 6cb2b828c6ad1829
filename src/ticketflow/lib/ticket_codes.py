"""Ticket codes: the string printed in the QR code.

Every ticket is issued with a signed `tf2.` code (lib/signed_codes.py): its id, event, type and
code version under an Ed25519 signature a scanner checks offline. The code needs the ticket's id,
which the database assigns on insert, so a new ticket is inserted with a unique placeholder
(`unsigned.` and random characters: not the shape of any code, so no door ever looks it up) and
the issuing transaction then replaces the placeholders of its order with the codes `sign_new`
makes, in one UPDATE: no committed ticket ever has a placeholder.

Before signed codes, tickets got `tf1.<43 URL-safe characters>`: 256 bits from `secrets`
(CSPRNG), unguessable and saying nothing about ids or e-mails. Those already issued stay valid
online; `new_ticket_code` still makes them for tests and benchmarks of that path.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ticketflow.db.models.tickets import FIRST_CODE_VERSION
from ticketflow.lib.signed_codes import SIGNED_CODE_PATTERN, SIGNED_CODE_PREFIX, TicketSigner

CODE_VERSION = "tf1"
CODE_RANDOM_BYTES = 32
CODE_PATTERN = re.compile(r"^tf1\.[A-Za-z0-9_-]{43}$")
PLACEHOLDER_PREFIX = "unsigned."
PLACEHOLDER_LIKE = PLACEHOLDER_PREFIX + "%"
"""The SQL `LIKE` pattern of every placeholder."""


def new_ticket_code() -> str:
    return f"{CODE_VERSION}.{secrets.token_urlsafe(CODE_RANDOM_BYTES)}"


def unsigned_placeholder() -> str:
    """The code of a ticket being inserted, until its signed code replaces it (same transaction)."""
    return PLACEHOLDER_PREFIX + secrets.token_urlsafe(CODE_RANDOM_BYTES)


def is_signed_code(text: str) -> bool:
    return text.startswith(SIGNED_CODE_PREFIX)


def looks_like_ticket_code(text: str) -> bool:
    """True when `text` has the exact shape of a `tf1.` or `tf2.` code (no database needed)."""
    return CODE_PATTERN.fullmatch(text) is not None or SIGNED_CODE_PATTERN.fullmatch(text) is not None


@dataclass(frozen=True, slots=True)
class SignedTicket:
    id: int
    ticket_type_id: int
    code: str


def sign_new(signer: TicketSigner, tickets: Iterable[tuple[Any, Any, Any]]) -> list[SignedTicket]:
    """The first codes of new tickets given as (id, event id, ticket type id): version 1."""
    return [
        SignedTicket(
            int(ticket_id), int(type_id), signer.sign(ticket_id, event_id, type_id, FIRST_CODE_VERSION)
        )
        for ticket_id, event_id, type_id in tickets
    ]
