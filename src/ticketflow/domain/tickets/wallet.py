"""Apple Wallet passes (`.pkpass`): a ticket in the holder's phone, its QR code as the barcode.

A pass is a ZIP archive of `pass.json` (the fields and the barcode), its images, `manifest.json`
(the SHA-1 of every other file) and `signature`: a detached PKCS#7 signature of the manifest,
made with the organiser's Pass Type ID certificate and carrying Apple's WWDR intermediate
certificate, which is how Wallet knows the pass comes from that organiser and was not altered.

The certificate, its key and the WWDR certificate are named in settings (`WALLET_*`). Without
them the endpoint refuses with 503: nothing is signed with a made-up identity. The files are read
once and kept; a file that cannot be read or parsed is reported (logged, and 503) on each request
until it is fixed.

Every word a person reads on the pass is in `PassWording`, so a translated wording can be passed
in without touching the layout. Dates are given to Wallet as ISO 8601 with `ignoresTimeZone`, so
the phone formats them in the reader's language and still shows the event's local time.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import logging
import zipfile
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from PIL import Image, ImageDraw

from ticketflow.lib.errors import ServiceUnavailable
from ticketflow.lib.i18n import N_
from ticketflow.lib.ticket_pdf import PrintedTicket

logger = logging.getLogger("ticketflow.wallet")

MEDIA_TYPE = "application/vnd.apple.pkpass"
BACKGROUND = (17, 24, 39)
FOREGROUND = (255, 255, 255)
LABEL = (156, 163, 175)
ICON_SIZES = {"icon.png": 29, "icon@2x.png": 58, "icon@3x.png": 87}


class WalletUnavailable(ServiceUnavailable):
    detail = N_("wallet passes are not configured on this server")


@dataclass(frozen=True, slots=True)
class PassWording:
    """Every human-readable text of a wallet pass (English by default; `translated` gives another
    language)."""

    description: str = N_("Ticket for {event}")
    event: str = N_("EVENT")
    starts: str = N_("STARTS")
    attendee: str = N_("ATTENDEE")
    venue: str = N_("VENUE")
    ticket_type: str = N_("TICKET TYPE")
    order: str = N_("ORDER")
    order_value: str = N_("#{order_id}")
    ticket: str = N_("TICKET")
    ticket_value: str = N_("#{ticket_id}")
    when: str = N_("DATE AND TIME")
    door: str = N_("AT THE DOOR")
    door_text: str = N_(
        "Show this QR code at the entrance. It admits one person once: do not share it or post it online."
    )
    code: str = N_("CODE")


ENGLISH = PassWording()


@dataclass(frozen=True, slots=True)
class WalletConfig:
    """Where the signing identity is, as the settings name it."""

    pass_type_id: str
    team_id: str
    organization_name: str
    certificate_path: str
    private_key_path: str
    private_key_password: str
    wwdr_certificate_path: str

    @property
    def complete(self) -> bool:
        return all(
            (
                self.pass_type_id,
                self.team_id,
                self.certificate_path,
                self.private_key_path,
                self.wwdr_certificate_path,
            )
        )


@dataclass(frozen=True, slots=True)
class PassSigner:
    """The organiser's signing identity, loaded once."""

    pass_type_id: str
    team_id: str
    organization_name: str
    certificate: x509.Certificate
    private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    wwdr_certificate: x509.Certificate

    def sign(self, manifest: bytes) -> bytes:
        """The detached PKCS#7 (DER) signature of `manifest`, with the WWDR certificate in it."""
        return (
            pkcs7.PKCS7SignatureBuilder()
            .set_data(manifest)
            .add_signer(self.certificate, self.private_key, hashes.SHA256())
            .add_certificate(self.wwdr_certificate)
            .sign(
                serialization.Encoding.DER,
                [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary],
            )
        )


def pass_signer(config: WalletConfig) -> PassSigner:
    """The signer for `config`; `WalletUnavailable` when it is incomplete or cannot be loaded."""
    if not config.complete:
        raise WalletUnavailable
    try:
        return _load_signer(config)
    except (OSError, ValueError, TypeError) as exc:
        logger.error("wallet pass signing identity cannot be loaded: %s", exc)
        raise WalletUnavailable(N_("the wallet pass certificate or key cannot be loaded")) from None


@functools.lru_cache(maxsize=4)
def _load_signer(config: WalletConfig) -> PassSigner:
    with open(config.private_key_path, "rb") as file:
        key_data = file.read()
    password = config.private_key_password.encode() if config.private_key_password else None
    key = serialization.load_pem_private_key(key_data, password)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        msg = "the wallet pass key must be an RSA or EC private key"
        raise TypeError(msg)
    return PassSigner(
        pass_type_id=config.pass_type_id,
        team_id=config.team_id,
        organization_name=config.organization_name or "Ticket-Flow",
        certificate=_load_certificate(config.certificate_path),
        private_key=key,
        wwdr_certificate=_load_certificate(config.wwdr_certificate_path),
    )


def _load_certificate(path: str) -> x509.Certificate:
    """A certificate in PEM or DER (Apple hands out the WWDR certificate as DER `.cer`)."""
    with open(path, "rb") as file:
        data = file.read()
    if b"-----BEGIN CERTIFICATE-----" in data:
        return x509.load_pem_x509_certificate(data)
    return x509.load_der_x509_certificate(data)


@dataclass(frozen=True, slots=True)
class PassTicket:
    """What one pass shows: the printed ticket's facts, and what only a wallet uses."""

    printed: PrintedTicket
    event_id: int
    starts_at_local: str
    """ISO 8601 with the event's own offset: Wallet shows that wall-clock time."""
    voided: bool
    """Cancelled or used: Wallet greys the pass out."""


def pass_json(pass_ticket: PassTicket, signer: PassSigner, wording: PassWording = ENGLISH) -> dict[str, Any]:
    ticket = pass_ticket.printed
    barcode = {
        "format": "PKBarcodeFormatQR",
        "message": ticket.code,
        "messageEncoding": "iso-8859-1",
        "altText": wording.ticket_value.format(ticket_id=ticket.ticket_id),
    }
    starts = {
        "key": "starts",
        "label": wording.starts,
        "value": pass_ticket.starts_at_local,
        "dateStyle": "PKDateStyleMedium",
        "timeStyle": "PKDateStyleShort",
        "ignoresTimeZone": True,
    }
    auxiliary = [{"key": "venue", "label": wording.venue, "value": ticket.venue}]
    if ticket.ticket_type:
        auxiliary.append({"key": "type", "label": wording.ticket_type, "value": ticket.ticket_type})
    return {
        "formatVersion": 1,
        "passTypeIdentifier": signer.pass_type_id,
        "teamIdentifier": signer.team_id,
        "organizationName": signer.organization_name,
        "serialNumber": f"ticket-{ticket.ticket_id}",
        "groupingIdentifier": f"event-{pass_ticket.event_id}",
        "description": wording.description.format(event=ticket.event_title),
        "logoText": signer.organization_name,
        "backgroundColor": _rgb(BACKGROUND),
        "foregroundColor": _rgb(FOREGROUND),
        "labelColor": _rgb(LABEL),
        "relevantDate": pass_ticket.starts_at_local,
        "voided": pass_ticket.voided,
        "barcodes": [barcode],
        "barcode": barcode,
        "eventTicket": {
            "primaryFields": [{"key": "event", "label": wording.event, "value": ticket.event_title}],
            "secondaryFields": [
                {"key": "attendee", "label": wording.attendee, "value": ticket.attendee_name},
                starts,
            ],
            "auxiliaryFields": auxiliary,
            "backFields": [
                {"key": "door", "label": wording.door, "value": wording.door_text},
                {"key": "when", "label": wording.when, "value": ticket.when},
                {
                    "key": "order",
                    "label": wording.order,
                    "value": wording.order_value.format(order_id=ticket.order_id),
                },
                {
                    "key": "ticket",
                    "label": wording.ticket,
                    "value": wording.ticket_value.format(ticket_id=ticket.ticket_id),
                },
                {"key": "code", "label": wording.code, "value": ticket.code},
            ],
        },
    }


def wallet_pass(ticket: PassTicket, signer: PassSigner, wording: PassWording = ENGLISH) -> bytes:
    """The signed `.pkpass` archive for `ticket`."""
    files = {"pass.json": json.dumps(pass_json(ticket, signer, wording), ensure_ascii=False).encode()}
    files.update(icons())
    manifest = json.dumps(
        {name: hashlib.sha1(content).hexdigest() for name, content in files.items()},  # noqa: S324 - the format's hash
        sort_keys=True,
    ).encode()
    files["manifest.json"] = manifest
    files["signature"] = signer.sign(manifest)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for name, content in files.items():
            bundle.writestr(name, content)
    return archive.getvalue()


@functools.cache
def icons() -> dict[str, bytes]:
    """The pass icons (Wallet refuses a pass without `icon.png`): a ticket stub on the pass colour."""
    return {name: _icon(size) for name, size in ICON_SIZES.items()}


def _icon(size: int) -> bytes:
    image = Image.new("RGB", (size, size), BACKGROUND)
    draw = ImageDraw.Draw(image)
    margin = max(2, size // 6)
    draw.rounded_rectangle(
        (margin, margin + size // 8, size - margin, size - margin - size // 8),
        radius=max(1, size // 12),
        fill=FOREGROUND,
    )
    notch = max(1, size // 10)
    centre = size // 2
    for x in (margin, size - margin):
        draw.ellipse((x - notch, centre - notch, x + notch, centre + notch), fill=BACKGROUND)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _rgb(colour: tuple[int, int, int]) -> str:
    red, green, blue = colour
    return f"rgb({red}, {green}, {blue})"
