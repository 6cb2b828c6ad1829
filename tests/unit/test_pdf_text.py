"""Text on PDF tickets: the standard fonts' character set, nothing dropped silently."""

from __future__ import annotations

import hashlib
import re

import pytest
from fpdf import FPDF

from tests.support.documents import pdf_pages_text
from ticketflow.lib.ticket_pdf import (
    CODE_FONT_SIZE,
    DEJAVU_SANS,
    FONTS,
    HELVETICA,
    PAGE_MARGIN_MM,
    PrintedTicket,
    fitted_size,
    ticket_pdf,
    typeface_for,
)


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("José Núñez, Zoë, Ærø, €20", "José Núñez, Zoë, Ærø, €20"),
        ("Łukasz Đoković, Ĉapek", "?ukasz ?okovic, Capek"),
        ("東京 Ω", "?? ?"),
        ("Jose\u0301", "José"),  # decomposed as some keyboards send it: composed first
        ("", ""),
    ],
)
def test_printable_keeps_western_text_and_marks_what_it_cannot_show(given: str, shown: str) -> None:
    assert HELVETICA.printable(given) == shown


def test_a_document_is_set_in_helvetica_unless_a_text_needs_more() -> None:
    assert typeface_for(["José Núñez", "Año Nuevo, 20 €", ""]) == HELVETICA
    assert typeface_for(["Zoë", "Jose\u0301"]) == HELVETICA
    assert typeface_for(["José Núñez", "Łukasz"]) == DEJAVU_SANS
    assert typeface_for(["東京 Zoë", "Адэбаё"]) == DEJAVU_SANS
    # nothing more to show in DejaVu Sans: Helvetica marks it just as well, nothing embedded
    assert typeface_for(["東京", "José 😀", "A\u202eB"]) == HELVETICA


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("Łukasz Żółć, Đoković, Ĉapek", "Łukasz Żółć, Đoković, Ĉapek"),
        ("Дмитрий Ελένη Nguyễn Thị Hương, Շուշան, ნინო", "Дмитрий Ελένη Nguyễn Thị Hương, Շուշան, ნინო"),
        ("\u0438\u0306", "й"),  # decomposed: composed first
        ("Adébáyọ̀ Q̃", "Adébáyọ̀ Q̃"),  # accents with no composed letter: combining marks kept
        ("東京 😀 שלום", "?? ? ????"),
        ("A\u202eB\u200dC", "A?B?C"),  # invisible format characters: marked, not passed on
        ("\U0001d6a8 ﬁ", "\u0391 fi"),  # a styled letter, a ligature: their plain letters (Greek Alpha)
        ("José Núñez, €20", "José Núñez, €20"),
    ],
)
def test_the_embedded_font_shows_more_scripts_and_marks_the_rest(given: str, shown: str) -> None:
    assert DEJAVU_SANS.printable(given) == shown


def test_the_vendored_fonts_carry_their_licence_and_match_their_notice() -> None:
    notice = (FONTS / "README.md").read_text()
    assert "`dejavu-fonts-ttf` 2.37.3" in notice
    for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"):
        recorded = re.search(rf"sha256 of `{re.escape(name)}`: `([0-9a-f]{{64}})`", notice)
        assert recorded is not None
        assert hashlib.sha256((FONTS / name).read_bytes()).hexdigest() == recorded.group(1)
    licence = (FONTS / "LICENSE").read_text()
    assert "Bitstream Vera" in licence
    assert "public domain" in licence


@pytest.mark.parametrize("names", ["Ada Lovelace", "Дмитрий"])  # Helvetica and Courier, or DejaVu embedded
def test_a_signed_code_is_printed_whole_on_one_line_within_the_page(names: str) -> None:
    """A signed code is about 110 characters: at 8 pt Courier its line would run past both margins
    (201 mm on 174), so it is set smaller, whole, on one line."""
    code = "tf2." + "A" * 107
    ticket = PrintedTicket(1, code, "Jazz Night", "Blue Hall", "1 June 2031, 20:00", names, 7)
    (text,) = pdf_pages_text(ticket_pdf([ticket]))
    assert f"Code: {code}" in text
    pdf = FPDF(unit="mm", format="A4")
    pdf.set_margins(PAGE_MARGIN_MM, PAGE_MARGIN_MM, PAGE_MARGIN_MM)
    line = f"Code: {code}"
    size = fitted_size(pdf, "Courier", line, pdf.epw, CODE_FONT_SIZE)
    assert size < CODE_FONT_SIZE
    pdf.set_font("Courier", "", size)
    assert pdf.get_string_width(line) <= pdf.epw + 1e-6
    assert fitted_size(pdf, "Courier", "Code: tf1.short", pdf.epw, CODE_FONT_SIZE) == CODE_FONT_SIZE
