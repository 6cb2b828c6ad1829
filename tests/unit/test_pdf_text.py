"""Text on PDF tickets: the standard fonts' character set, nothing dropped silently."""

from __future__ import annotations

import pytest

from ticketflow.lib.ticket_pdf import printable


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("José Núñez, Zoë, Ærø, €20", "José Núñez, Zoë, Ærø, €20"),
        ("Łukasz Đoković, Ĉapek", "?ukasz ?okovic, Capek"),
        ("東京 Ω", "?? ?"),
        ("", ""),
    ],
)
def test_printable_keeps_western_text_and_marks_what_it_cannot_show(given: str, shown: str) -> None:
    assert printable(given) == shown
