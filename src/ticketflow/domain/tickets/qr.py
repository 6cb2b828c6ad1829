"""QR images of ticket codes, tuned for phone screens and door scanners.

Error correction level Q (25 % of the symbol recoverable: cracked screens, glare) and the standard
quiet zone of four modules around the symbol.
"""

from __future__ import annotations

import io

import qrcode
import qrcode.constants
from qrcode.image.pil import PilImage
from qrcode.image.svg import SvgPathImage

QUIET_ZONE_MODULES = 4
PNG_MODULE_PIXELS = 10
FIXED_MASK_PATTERN = 0


def _qr(code: str, mask_pattern: int | None = None) -> qrcode.QRCode:  # type: ignore[type-arg]
    qr = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_Q,
        box_size=PNG_MODULE_PIXELS,
        border=QUIET_ZONE_MODULES,
        mask_pattern=mask_pattern,
    )
    qr.add_data(code, optimize=0)
    qr.make(fit=True)
    return qr


def qr_matrix(code: str) -> list[list[bool]]:
    """The modules of the symbol for `code`, quiet zone included, row by row (True: dark).

    The mask pattern is fixed: the search for the best one costs ten times the rest of the
    encoding, and any mask decodes (the best one only spreads dark and light a little better).
    """
    matrix: list[list[bool]] = _qr(code, mask_pattern=FIXED_MASK_PATTERN).get_matrix()
    return matrix


def qr_png(code: str) -> bytes:
    """A black-on-white PNG encoding exactly `code`."""
    image = _qr(code).make_image(image_factory=PilImage)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue()


def qr_svg(code: str) -> bytes:
    """A scalable SVG encoding exactly `code`."""
    image = _qr(code).make_image(image_factory=SvgPathImage)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue()
