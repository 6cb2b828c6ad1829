"""Text on PDF tickets: the standard fonts' character set, nothing dropped silently."""

from __future__ import annotations

import hashlib
import re

import pytest

from ticketflow.lib.ticket_pdf import DEJAVU_SANS, FONTS, HELVETICA, typeface_for


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
