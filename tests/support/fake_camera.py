"""A video file for Chromium's fake camera (`--use-file-for-fake-video-capture`).

Chromium plays a YUV4MPEG2 file in a loop as the camera's picture. `y4m_video` writes one from
Pillow images: 8-bit I420 frames (full-size Y plane, Cb and Cr halved in both directions).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PIL import Image

WIDTH, HEIGHT = 640, 480


def on_white_frame(picture: Image.Image, side: int = 400) -> Image.Image:
    """`picture` scaled to `side` pixels and centred on a white 640x480 frame."""
    frame = Image.new("RGB", (WIDTH, HEIGHT), "white")
    scaled = picture.convert("RGB").resize((side, side), Image.Resampling.NEAREST)
    frame.paste(scaled, ((WIDTH - side) // 2, (HEIGHT - side) // 2))
    return frame


def blank_frame() -> Image.Image:
    return Image.new("RGB", (WIDTH, HEIGHT), "white")


def i420(frame: Image.Image) -> bytes:
    luma, blue, red = frame.convert("RGB").convert("YCbCr").split()
    half = (WIDTH // 2, HEIGHT // 2)
    return (
        luma.tobytes()
        + blue.resize(half, Image.Resampling.BOX).tobytes()
        + red.resize(half, Image.Resampling.BOX).tobytes()
    )


def y4m_video(path: Path, scenes: Sequence[tuple[Image.Image, int]], fps: int = 10) -> Path:
    """Write `scenes` (a frame and how many times it repeats) as a Y4M file at `fps`."""
    with path.open("wb") as video:
        video.write(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame, repeats in scenes:
            planes = i420(frame)
            for _ in range(repeats):
                video.write(b"FRAME\n" + planes)
    return path
