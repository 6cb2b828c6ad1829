"""Reading what the product hands to holders as a person's software would: PDF text, QR codes
decoded from the rendered pages (pdftoppm from poppler-utils), wallet pass archives."""

from __future__ import annotations

import io
import subprocess
import tempfile
from pathlib import Path

import zxingcpp
from PIL import Image
from pypdf import PdfReader

RENDER_DPI = 150


def pdf_pages_text(document: bytes) -> list[str]:
    """The text of each page, whitespace folded to single spaces."""
    reader = PdfReader(io.BytesIO(document))
    return [" ".join(page.extract_text().split()) for page in reader.pages]


def pdf_fonts(document: bytes) -> dict[str, bool]:
    """The fonts the pages use, by name (a subset's tag left out), each with whether the document
    embeds it."""
    reader = PdfReader(io.BytesIO(document))
    found: dict[str, bool] = {}
    for page in reader.pages:
        for reference in page["/Resources"]["/Font"].values():
            font = reference.get_object()
            described = font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font
            descriptor = described.get("/FontDescriptor")
            embedded = descriptor is not None and "/FontFile2" in descriptor.get_object()
            found[str(font["/BaseFont"]).lstrip("/").split("+")[-1]] = embedded
    return found


def qr_texts(image: Image.Image) -> list[str]:
    """The text of every QR code in `image`, read by a real decoder. QR codes only: looking for
    every format, zxing-cpp now and then reads a few modules of a QR code as a one-dimensional
    barcode too (about one random signed code in 300 at the e-mail's size)."""
    return [found.text for found in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)]


def pdf_qr_codes(document: bytes) -> list[str]:
    """The QR code read from each page rendered as a scanner would see a print (150 dpi)."""
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "document.pdf"
        source.write_bytes(document)
        subprocess.run(
            ["pdftoppm", "-r", str(RENDER_DPI), "-gray", "-png", str(source), str(Path(folder) / "page")],
            check=True,
            capture_output=True,
            timeout=60,
        )
        codes = []
        for page in sorted(Path(folder).glob("page-*.png")):
            found = qr_texts(Image.open(page))
            assert len(found) == 1, f"{page.name}: {len(found)} QR codes"
            codes.append(found[0])
        return codes
