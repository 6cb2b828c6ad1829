"""QR images for the API: drawn in a worker thread, never on the event loop, and kept in a bounded
least-recently-used cache by ticket code."""

from __future__ import annotations

import threading

from ticketflow.lib.qr import PNG_IMAGES, QR_CACHE_SIZE, ImageCache, qr_png, render_png


class Drawing:
    """A drawing function that remembers which codes it drew, and on which thread."""

    def __init__(self) -> None:
        self.drawn: list[str] = []
        self.threads: set[int] = set()

    def __call__(self, code: str) -> bytes:
        self.drawn.append(code)
        self.threads.add(threading.get_ident())
        return f"image of {code}".encode()


async def test_images_are_drawn_off_the_event_loop_once_per_code() -> None:
    drawing = Drawing()
    images = ImageCache(drawing, size=8)
    first = await images.get("TF-CODE-1")
    again = await images.get("TF-CODE-1")
    assert first == again == b"image of TF-CODE-1"
    assert drawing.drawn == ["TF-CODE-1"]  # the second came from the cache
    assert threading.get_ident() not in drawing.threads  # the loop's thread drew nothing


async def test_the_cache_keeps_the_most_recently_used_codes_only() -> None:
    drawing = Drawing()
    images = ImageCache(drawing, size=3)
    for code in ("a", "b", "c", "a", "d"):  # "a" used again: "b" is now the oldest
        await images.get(code)
    assert len(images) == 3
    await images.get("a")
    await images.get("b")
    assert drawing.drawn == ["a", "b", "c", "d", "b"]


async def test_the_api_renderer_gives_the_real_png_and_its_cache_is_bounded() -> None:
    code = "TF-RENDER-CHECK-0001"
    assert await render_png(code) == qr_png(code)
    assert code in PNG_IMAGES._images
    assert 0 < len(PNG_IMAGES) <= QR_CACHE_SIZE
