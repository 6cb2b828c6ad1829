"""Signed ticket codes (`tf2.`): a door scanner can check them alone, without the server.

Format `tf2.<base64url(payload || signature)>`, unpadded. The payload is a fixed 16-byte struct
(format 1, key id, ticket id, event id, ticket type id or 0, version) and the signature is the
64-byte Ed25519 signature of exactly those payload bytes, so a code is always 4 + 107 characters:
small enough for a QR code a phone reads from a cracked screen.

Decoding is strict, because a scanner that accepts a variant the server would not is a door to
forgeries: the body must be exactly 107 characters of the base64url alphabet in canonical form (no
padding, no whitespace, no spare bits set in the last character), the format must be known, the key
id one of ours, and the signature must verify. Each cause is its own error; the door answers them
all alike.

Keys rotate: the first of TICKET_SIGNING_KEYS signs new codes and every listed key verifies, so a
key removed from the list retires every code it signed. Without keys (development and tests only;
production refuses to start) a fixed development key with kid 0 signs: its private key is public.
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ticketflow.settings import Settings, signing_key_entries

SIGNED_CODE_PREFIX = "tf2."
PAYLOAD_FORMAT = 1
PAYLOAD = struct.Struct(">BBIIIH")
"""format, kid, ticket id, event id, ticket type id (0: none), version: 16 bytes, big-endian."""
SIGNATURE_BYTES = 64
SIGNED_CODE_BYTES = PAYLOAD.size + SIGNATURE_BYTES
SIGNED_CODE_PATTERN = re.compile(r"^tf2\.[A-Za-z0-9_-]{106}[AEIMQUYcgkosw048]$")
"""80 bytes are 106 characters and 4 bits: the last character's two spare bits must be zero."""
DEVELOPMENT_KID = 0
DEVELOPMENT_KEY = hashlib.sha256(b"ticketflow development-only ticket signing key").digest()
"""Public by construction: production refuses to start without TICKET_SIGNING_KEYS."""


class InvalidSignedCode(ValueError):
    """A `tf2.` code this server did not issue (or cannot verify any more)."""


class MalformedCode(InvalidSignedCode):
    """Not the exact shape: length, alphabet, padding, whitespace, spare bits."""


class UnknownFormat(InvalidSignedCode):
    """A payload format this server does not know."""


class UnknownKey(InvalidSignedCode):
    """Signed by a key id that is not (or no longer) listed."""


class BadSignature(InvalidSignedCode):
    """The signature does not match the payload under the named key."""


@dataclass(frozen=True, slots=True)
class TicketClaims:
    """What a signed code says about its ticket."""

    ticket_id: int
    event_id: int
    ticket_type_id: int | None
    version: int
    kid: int


class PublicKey(msgspec.Struct, frozen=True):
    """A verifying key as scanners receive it: `public_key` is the unpadded base64url of the 32 raw
    bytes (WebCrypto `importKey("raw", ..., "Ed25519")`)."""

    kid: int
    public_key: str


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class TicketSigner:
    """Signs codes with the first key and verifies them with any of the keys."""

    def __init__(self, keys: Sequence[tuple[int, bytes]]) -> None:
        if not keys:
            msg = "a signer needs at least one key"
            raise ValueError(msg)
        self._private = {kid: Ed25519PrivateKey.from_private_bytes(key) for kid, key in keys}
        self._public = {kid: key.public_key() for kid, key in self._private.items()}
        self.signing_kid = keys[0][0]

    @classmethod
    def from_settings(cls, settings: Settings) -> TicketSigner:
        entries = signing_key_entries(settings.ticket_signing_keys)
        return cls(entries or ((DEVELOPMENT_KID, DEVELOPMENT_KEY),))

    def sign(self, ticket_id: int, event_id: int, ticket_type_id: int | None, version: int) -> str:
        """The `tf2.` code of this ticket version (ids up to 2**32 - 1, versions up to 65535)."""
        try:
            payload = PAYLOAD.pack(
                PAYLOAD_FORMAT, self.signing_kid, ticket_id, event_id, ticket_type_id or 0, version
            )
        except struct.error as exc:
            msg = f"a value does not fit a signed code: {exc}"
            raise ValueError(msg) from exc
        signature = self._private[self.signing_kid].sign(payload)
        return SIGNED_CODE_PREFIX + b64url(payload + signature)

    def verify(self, code: str) -> TicketClaims:
        """The claims of a code signed by one of our keys; `InvalidSignedCode` otherwise."""
        claims, payload, signature = self._read(code)
        try:
            self._public[claims.kid].verify(signature, payload)
        except InvalidSignature as exc:
            raise BadSignature(claims.kid) from exc
        return claims

    def claims(self, code: str) -> TicketClaims | None:
        """What a code of the `tf2.` shape, of a known format and naming a listed key, says - read
        WITHOUT checking its signature (about 90 us saved a code); None for any other text. A claim,
        not a proof: trust it only as far as the ticket it names holds exactly this code (the code
        this server issued it, so its signature was ours), and `verify` it otherwise."""
        try:
            return self._read(code)[0]
        except InvalidSignedCode:
            return None

    def _read(self, code: str) -> tuple[TicketClaims, bytes, bytes]:
        """The claims, the payload and the signature of a code, its key listed; unchecked."""
        if SIGNED_CODE_PATTERN.fullmatch(code) is None:
            raise MalformedCode(code[:8])
        body = code.removeprefix(SIGNED_CODE_PREFIX)
        data = base64.urlsafe_b64decode(body + "=")
        if len(data) != SIGNED_CODE_BYTES or b64url(data) != body:  # the pattern already ensures it
            raise MalformedCode(code[:8])
        payload, signature = data[: PAYLOAD.size], data[PAYLOAD.size :]
        form, kid, ticket_id, event_id, ticket_type_id, version = PAYLOAD.unpack(payload)
        if form != PAYLOAD_FORMAT:
            raise UnknownFormat(form)
        if kid not in self._public:
            raise UnknownKey(kid)
        return TicketClaims(ticket_id, event_id, ticket_type_id or None, version, kid), payload, signature

    @property
    def kids(self) -> tuple[int, ...]:
        """The id of every listed key, the signing one first."""
        return tuple(self._public)

    def public_keys(self) -> list[PublicKey]:
        """Every verifying key, the signing one first: what the scanner bundle hands out."""
        return [
            PublicKey(kid, b64url(key.public_bytes(Encoding.Raw, PublicFormat.Raw)))
            for kid, key in self._public.items()
        ]


def kid_of(code: str) -> int | None:
    """The key id a code of the `tf2.` shape names (None for any other text), read without
    checking the signature: for codes this server stored itself (which key signed a ticket)."""
    head = _head(code)
    return None if head is None else head[1]  # format byte, then the kid (see PAYLOAD)


def _head(code: str) -> bytes | None:
    """The first six payload bytes of a code of the `tf2.` shape (format, kid, ticket id), read
    without checking the signature; None for any other text. Never a ticket's claim: a scanned
    code names a ticket only once `TicketSigner.verify` accepts it."""
    if SIGNED_CODE_PATTERN.fullmatch(code) is None:
        return None
    start = len(SIGNED_CODE_PREFIX)
    return base64.urlsafe_b64decode(code[start : start + 8])


def generate_signing_key(kid: int) -> str:
    """A fresh `kid:key` entry for TICKET_SIGNING_KEYS."""
    key = Ed25519PrivateKey.generate().private_bytes_raw()
    return f"{kid}:{b64url(key)}"
