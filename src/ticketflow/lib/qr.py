"""QR images of ticket codes, tuned for phone screens and door scanners.

Error correction level Q (25 % of the symbol recoverable: cracked screens, glare) and the standard
quiet zone of four modules around the symbol.

Drawing an image costs milliseconds of CPU (~8-12 ms for a PNG, most of it the mask search), far
more than the rest of a request: the API draws them in a worker thread (`render_png`,
`render_svg`), never on the event loop, and keeps the last `QR_CACHE_SIZE` images of each format
in memory, keyed by ticket code, so a ticket shown again (a refreshed page, a second device) costs
nothing. A code always gives the same image, so a cached one is never stale.
"""

from __future__ import annotations

import io
from collections import OrderedDict
from collections.abc import Callable

import anyio.to_thread
import qrcode
import qrcode.constants
from qrcode.image.pil import PilImage
from qrcode.image.svg import SvgPathImage

QUIET_ZONE_MODULES = 4
PNG_MODULE_PIXELS = 10
FIXED_MASK_PATTERN = 0
QR_CACHE_SIZE = 2048
"""Images kept per format and process; a PNG is ~1-2 KB, so a few MB at most."""


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


class ImageCache:
    """The last `size` images drawn by `draw`, by ticket code; misses are drawn in a thread."""

    def __init__(self, draw: Callable[[str], bytes], size: int) -> None:
        self._draw = draw
        self._size = size
        self._images: OrderedDict[str, bytes] = OrderedDict()

    def __len__(self) -> int:
        return len(self._images)

    async def get(self, code: str) -> bytes:
        image = self._images.get(code)
        if image is None:
            image = await anyio.to_thread.run_sync(self._draw, code)
            self._images[code] = image
            while len(self._images) > self._size:
                self._images.popitem(last=False)  # the least recently used
        self._images.move_to_end(code)
        return image


PNG_IMAGES = ImageCache(qr_png, QR_CACHE_SIZE)
SVG_IMAGES = ImageCache(qr_svg, QR_CACHE_SIZE)


async def render_png(code: str) -> bytes:
    """The PNG of `code`: from the cache, or drawn off the event loop."""
    return await PNG_IMAGES.get(code)


async def render_svg(code: str) -> bytes:
    """The SVG of `code`: from the cache, or drawn off the event loop."""
    return await SVG_IMAGES.get(code)
