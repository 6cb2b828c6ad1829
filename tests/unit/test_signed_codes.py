"""Signed ticket codes (`tf2.`): round trip, strict decoding, rotation, and the public key form."""

from __future__ import annotations

import base64
import io
import string

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from PIL import Image

from tests.support.documents import qr_texts
from ticketflow.cli import keys_group
from ticketflow.lib.qr import qr_png
from ticketflow.lib.signed_codes import (
    DEVELOPMENT_KID,
    BadSignature,
    InvalidSignedCode,
    MalformedCode,
    TicketClaims,
    TicketSigner,
    UnknownFormat,
    UnknownKey,
    b64url,
    generate_signing_key,
    kid_of,
)
from ticketflow.lib.ticket_codes import looks_like_ticket_code, new_ticket_code
from ticketflow.settings import Settings, SettingsError, signing_key_entries

BASE64URL = string.ascii_letters + string.digits + "-_"
EMAIL_QR_PIXELS = 240
"""The size the ticket e-mail shows its QR image at (notifications/templates/tickets.html)."""


def signer(*kids: int) -> TicketSigner:
    return TicketSigner(signing_key_entries(",".join(generate_signing_key(kid) for kid in kids)))


SIGNER = signer(3)
CODE = SIGNER.sign(ticket_id=123_456, event_id=789, ticket_type_id=42, version=2)


def test_a_code_round_trips_and_is_short() -> None:
    assert SIGNER.verify(CODE) == TicketClaims(123_456, 789, 42, 2, kid=3)
    assert len(CODE) == 4 + 107
    assert looks_like_ticket_code(CODE)
    assert SIGNER.verify(SIGNER.sign(1, 2, None, 0)).ticket_type_id is None
    largest = SIGNER.sign(2**32 - 1, 2**32 - 1, 2**32 - 1, 2**16 - 1)
    assert SIGNER.verify(largest) == TicketClaims(2**32 - 1, 2**32 - 1, 2**32 - 1, 2**16 - 1, kid=3)
    with pytest.raises(ValueError, match="does not fit"):
        SIGNER.sign(2**32, 1, None, 0)


def test_the_qr_image_decodes_at_the_size_of_the_email() -> None:
    image = Image.open(io.BytesIO(qr_png(CODE))).resize((EMAIL_QR_PIXELS, EMAIL_QR_PIXELS))
    assert qr_texts(image) == [CODE]


def test_every_single_character_change_is_refused() -> None:
    refused = 0
    for index in range(len(CODE)):
        for character in {*BASE64URL, ".", "=", " "} - {CODE[index]}:
            changed = CODE[:index] + character + CODE[index + 1 :]
            with pytest.raises(InvalidSignedCode):
                SIGNER.verify(changed)
            refused += 1
    assert refused > 100 * 60


@pytest.mark.parametrize(
    "text",
    [
        CODE + "=",
        CODE + "\n",
        " " + CODE,
        CODE[:50] + " " + CODE[51:],
        CODE[:50] + "+" + CODE[51:],
        CODE[:50] + "/" + CODE[51:],
        CODE[:50] + "é" + CODE[51:],
        CODE[:-1],
        CODE + "A",
        CODE[:-1] + "B",  # the same bytes, a spare bit set: not the canonical form
        "TF2." + CODE[4:],
        "tf1." + CODE[4:],
        "",
    ],
)
def test_non_canonical_text_is_malformed(text: str) -> None:
    with pytest.raises(MalformedCode):
        SIGNER.verify(text)
    assert not looks_like_ticket_code(text)


def test_a_code_signed_by_another_key_is_refused() -> None:
    other_same_kid = signer(3).sign(123_456, 789, 42, 2)
    with pytest.raises(BadSignature):
        SIGNER.verify(other_same_kid)
    with pytest.raises(UnknownKey):
        SIGNER.verify(signer(4).sign(123_456, 789, 42, 2))


def test_an_unknown_payload_format_is_refused() -> None:
    data = bytearray(base64.urlsafe_b64decode(CODE[4:] + "="))
    data[0] = 2
    with pytest.raises(UnknownFormat):
        SIGNER.verify("tf2." + b64url(bytes(data)))


def test_rotation_signs_with_the_first_key_and_verifies_with_all() -> None:
    old, new = generate_signing_key(1), generate_signing_key(2)
    before = TicketSigner(signing_key_entries(old))
    old_code = before.sign(5, 6, None, 1)
    rotated = TicketSigner(signing_key_entries(f"{new},{old}"))
    assert rotated.verify(old_code).kid == 1
    new_code = rotated.sign(5, 6, None, 2)
    assert rotated.verify(new_code) == TicketClaims(5, 6, None, 2, kid=2)
    retired = TicketSigner(signing_key_entries(new))
    with pytest.raises(UnknownKey):
        retired.verify(old_code)
    assert [key.kid for key in rotated.public_keys()] == [2, 1]


def test_public_keys_are_the_32_raw_bytes_in_unpadded_base64url() -> None:
    (key,) = SIGNER.public_keys()
    assert key.kid == 3
    assert len(key.public_key) == 43
    assert set(key.public_key) <= set(BASE64URL)
    raw = base64.urlsafe_b64decode(key.public_key + "=")
    assert len(raw) == 32  # what WebCrypto importKey("raw", ..., "Ed25519") takes
    payload_and_signature = base64.urlsafe_b64decode(CODE[4:] + "=")
    Ed25519PublicKey.from_public_bytes(raw).verify(payload_and_signature[16:], payload_and_signature[:16])


def test_tf1_codes_keep_their_shape() -> None:
    assert looks_like_ticket_code(new_ticket_code())
    assert not looks_like_ticket_code("tf1." + "A" * 42)


def test_development_has_a_fixed_key_and_production_refuses_it() -> None:
    development = TicketSigner.from_settings(Settings())
    assert development.signing_kid == DEVELOPMENT_KID
    assert TicketSigner.from_settings(Settings()).verify(development.sign(1, 1, None, 0)).kid == 0
    configured = Settings(ticket_signing_keys=generate_signing_key(7))
    assert TicketSigner.from_settings(configured).signing_kid == 7


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("1:short", "entry 1"),
        ("0:" + "A" * 43, "kid from 1 to 255"),
        ("256:" + "A" * 43, "kid from 1 to 255"),
        ("1:" + "A" * 42 + "B", "canonical"),
        ("1:" + "A" * 43 + ",1:" + "B" * 42 + "A", "kid 1 twice"),
        ("1:" + "A" * 43 + ", 2:" + "+" * 43, "entry 2"),
    ],
)
def test_malformed_key_lists_are_refused(raw: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings(ticket_signing_keys=raw).validate()


def test_the_cli_generates_a_usable_key() -> None:
    result = CliRunner().invoke(keys_group, ["generate", "--kid", "9"])
    assert result.exit_code == 0, result.output
    ((kid, key),) = signing_key_entries(result.output.strip())
    assert kid == 9
    assert len(key) == 32
    assert CliRunner().invoke(keys_group, ["generate", "--kid", "0"]).exit_code != 0


@pytest.mark.parametrize("kid", [1, 2, 16, 200, 255])
def test_the_signing_key_is_read_from_the_code(kid: int) -> None:
    keys = signer(kid, 7)
    code = keys.sign(4_000_000_000, 3, None, 65_535)

    assert kid_of(code) == kid
    assert keys.kids == (kid, 7)
    assert kid_of(new_ticket_code()) is None
    assert kid_of(code + "A") is None
    assert kid_of("tf2." + "A" * 107) == 0  # the shape only: whose signature is not checked
