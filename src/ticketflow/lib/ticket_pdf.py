"""Printable tickets: a PDF with one A4 page a ticket, to print or to show on a phone.

Each page names the event, its venue, the local date and time, the ticket type (when the event
has types), the attendee and the order, and carries the QR code large enough for a door scanner
(70 mm, error correction level Q, with its quiet zone). The QR code is drawn as vector squares,
so it stays sharp at any zoom and on any printer, and no image is encoded or decoded.

Rendering is CPU work (a few milliseconds a page): the API runs it in a worker thread, the
e-mail worker calls it from the thread that composes the message.

Every word a person reads on the page is in `TicketWording`, so a translated wording can be
passed in without touching the layout.

Typefaces: a document whose every text is in the PDF's standard fonts' character set (Windows-1252:
English, Spanish and the other Western European languages) is set in Helvetica, which a PDF
reader has built in: nothing is embedded (about 5 ms for a one-ticket PDF). A document with any
other character it can show (an attendee named Łukasz, Дмитрий or Ελένη) is set in DejaVu Sans,
embedded as a subset of the glyphs it uses (`fonts/`: Latin with its extensions and combining
accents, Greek, Cyrillic, Armenian and Georgian): about 50-70 ms more a document. A character
the document's font lacks (Chinese, Arabic, an emoji, an invisible direction override) is shown
without its accent where that helps, else as `?`: never dropped silently.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from fontTools.ttLib import TTFont
from fpdf import FPDF

from ticketflow.lib.i18n import N_
from ticketflow.lib.qr import qr_matrix

TEXT_ENCODING = "windows-1252"
FONTS = Path(__file__).parent / "fonts"
PAGE_MARGIN_MM = 18.0
QR_SIZE_MM = 70.0
LABEL_WIDTH_MM = 34.0
INK = (17, 24, 39)
MUTED = (107, 114, 128)
RULE = (209, 213, 219)
DOOR_FONT_SIZE = 11.0
CODE_FONT_SIZE = 8.0
"""The code's line under the QR code; smaller for a code too long for the page (a signed code is
about 110 characters), never broken."""
DOOR_LINE_MM = 6.0
DOOR_PADDING_MM = 4.0
SEAM_MM = 0.02
"""Rows of modules overlap by this much, so no hairline shows between them when rasterised."""


@dataclass(frozen=True, slots=True)
class TicketWording:
    """Every human-readable text of a printed ticket (English by default; `translated` gives
    another language)."""

    document_title: str = N_("Tickets for {event}")
    heading: str = N_("ADMISSION TICKET")
    when: str = N_("When")
    venue: str = N_("Where")
    attendee: str = N_("Attendee")
    ticket_type: str = N_("Ticket type")
    order: str = N_("Order")
    order_value: str = N_("#{order_id} - ticket #{ticket_id}")
    door: str = N_(
        "Show this page at the entrance, printed or on your phone. The QR code admits one person"
        " once: do not share it or post it online."
    )
    code: str = N_("Code: {code}")


ENGLISH = TicketWording()


@dataclass(frozen=True, slots=True)
class PrintedTicket:
    """What one page shows, already formatted for the reader."""

    ticket_id: int
    code: str
    event_title: str
    venue: str
    when: str
    """The local date and time in the event's time zone."""
    attendee_name: str
    order_id: int
    ticket_type: str | None = None


@dataclass(frozen=True, slots=True)
class Typeface:
    """A document's fonts: the family its text is set in, the one of the line with the ticket's
    code, and the font files it embeds (none: the PDF's standard fonts, Windows-1252)."""

    family: str
    code_family: str
    files: tuple[tuple[str, str], ...] = ()
    """(style, file in `FONTS`) of each embedded style: "" regular, "B" bold."""

    def register(self, pdf: FPDF, *, bold: bool = True) -> None:
        """Add the embedded fonts to `pdf` (without `bold`: the regular style alone)."""
        for style, name in self.files:
            if bold or not style:
                pdf.add_font(self.family, style, str(FONTS / name))

    def shows(self, text: str) -> bool:
        """Whether there is a glyph for every character of `text` (composed: NFC)."""
        if not self.files:
            return _in_windows_1252(text)
        covered = _embedded_coverage(self.files)
        return all(ord(character) in covered for character in text)

    def printable(self, text: str) -> str:
        """`text` composed (NFC), each character it has no glyph for shown without its accent where
        that helps, else as `?`: never dropped silently."""
        text = _composed(text)
        if self.shows(text):
            return text
        return "".join(_shown(character, self) for character in text)


HELVETICA = Typeface("helvetica", "courier")
"""The standard fonts: built into every PDF reader, Windows-1252 only."""
DEJAVU_SANS = Typeface("dejavu-sans", "dejavu-sans", (("", "DejaVuSans.ttf"), ("B", "DejaVuSans-Bold.ttf")))
"""Embedded (the glyphs used), for a document with text Helvetica cannot show."""


def typeface_for(texts: Iterable[str]) -> Typeface:
    """Helvetica when it shows every one of `texts`, or when DejaVu Sans would show nothing more
    (Chinese alone, say: marked `?` in either); else DejaVu Sans."""
    for text in map(_composed, texts):
        if HELVETICA.shows(text):  # the common case: the whole text at once
            continue
        if any(DEJAVU_SANS.shows(character) and not HELVETICA.shows(character) for character in text):
            return DEJAVU_SANS
    return HELVETICA


def _composed(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _in_windows_1252(text: str) -> bool:
    try:
        text.encode(TEXT_ENCODING)
    except UnicodeEncodeError:
        return False
    return True


INVISIBLE = frozenset({"Cf", "Zl", "Zp"})
"""Unicode categories a ticket does not print even where the font maps them (zero-width spaces
and joiners, direction overrides, line and paragraph separators): shown as `?` instead."""


@functools.cache
def _embedded_coverage(files: tuple[tuple[str, str], ...]) -> frozenset[int]:
    """The code points every one of the embedded `files` has a glyph for (`INVISIBLE` left out)."""
    covered: frozenset[int] | None = None
    for _, name in files:
        with TTFont(FONTS / name, lazy=True) as font:
            points = frozenset(font.getBestCmap())
        covered = points if covered is None else covered & points
    return frozenset(point for point in covered or () if unicodedata.category(chr(point)) not in INVISIBLE)


def ticket_pdf(tickets: Sequence[PrintedTicket], wording: TicketWording = ENGLISH) -> bytes:
    """One PDF with a page per ticket, in the given order."""
    face = typeface_for(_texts(tickets, wording))
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.core_fonts_encoding = TEXT_ENCODING
    face.register(pdf)
    pdf.set_margins(PAGE_MARGIN_MM, PAGE_MARGIN_MM, PAGE_MARGIN_MM)
    pdf.set_auto_page_break(auto=False)
    pdf.set_creator("Ticket-Flow")
    if tickets:
        # the document's properties are Unicode (UTF-16), whatever its fonts
        pdf.set_title(_composed(wording.document_title.format(event=tickets[0].event_title)))
    for ticket in tickets:
        _page(pdf, face, ticket, wording)
    return bytes(pdf.output())


def _texts(tickets: Sequence[PrintedTicket], wording: TicketWording) -> Iterable[str]:
    """Every text the document's pages show (the codes themselves are ASCII)."""
    yield from (wording.heading, wording.when, wording.venue, wording.attendee, wording.ticket_type)
    yield from (wording.order, wording.order_value, wording.door, wording.code)
    for ticket in tickets:
        yield from (ticket.event_title, ticket.venue, ticket.when, ticket.attendee_name)
        yield ticket.ticket_type or ""


def _page(pdf: FPDF, face: Typeface, ticket: PrintedTicket, wording: TicketWording) -> None:
    pdf.add_page()
    width = pdf.epw
    pdf.set_text_color(*MUTED)
    pdf.set_font(face.family, "B", 9)
    pdf.cell(width, 5, face.printable(wording.heading), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_text_color(*INK)
    pdf.set_font(face.family, "B", 22)
    _text(pdf, face, width, 9.5, ticket.event_title)
    pdf.ln(3)
    _rule(pdf)
    rows = [
        (wording.when, ticket.when),
        (wording.venue, ticket.venue),
        (wording.attendee, ticket.attendee_name),
    ]
    if ticket.ticket_type:
        rows.append((wording.ticket_type, ticket.ticket_type))
    rows.append(
        (wording.order, wording.order_value.format(order_id=ticket.order_id, ticket_id=ticket.ticket_id))
    )
    for label, value in rows:
        _row(pdf, face, label, value)
    _rule(pdf)
    pdf.ln(4)
    left = pdf.l_margin + (width - QR_SIZE_MM) / 2
    _qr(pdf, ticket.code, left, pdf.get_y(), QR_SIZE_MM)
    pdf.set_y(pdf.get_y() + QR_SIZE_MM + 1)
    pdf.set_text_color(*MUTED)
    code_line = face.printable(wording.code.format(code=ticket.code))
    pdf.set_font(face.code_family, "", fitted_size(pdf, face.code_family, code_line, width, CODE_FONT_SIZE))
    pdf.cell(width, 4, code_line, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    _door_box(pdf, face, face.printable(wording.door))


def fitted_size(pdf: FPDF, family: str, text: str, width: float, size: float) -> float:
    """`size`, or the smaller size at which `text` (one line, never broken: a code) fits `width`."""
    pdf.set_font(family, "", size)
    needed = pdf.get_string_width(text)
    return size if needed <= width else size * width / needed


def _door_box(pdf: FPDF, face: Typeface, text: str) -> None:
    """The door text centred in a framed box (its lines are broken once per wording)."""
    lines = _broken_lines(text, face, DOOR_FONT_SIZE, pdf.epw - 2 * DOOR_PADDING_MM)
    top = pdf.get_y()
    height = len(lines) * DOOR_LINE_MM + 2 * DOOR_PADDING_MM
    pdf.set_draw_color(*RULE)
    pdf.rect(pdf.l_margin, top, pdf.epw, height)
    pdf.set_text_color(*INK)
    pdf.set_font(face.family, "", DOOR_FONT_SIZE)
    pdf.set_y(top + DOOR_PADDING_MM)
    for line in lines:
        pdf.cell(pdf.epw, DOOR_LINE_MM, line, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(top + height)


@functools.lru_cache(maxsize=32)
def _broken_lines(text: str, face: Typeface, font_size: float, width: float) -> tuple[str, ...]:
    """`text` broken into lines of at most `width` mm in `face` (line breaking is the costly part
    of laying out a paragraph; the door text is the same on every page)."""
    scratch = FPDF(unit="mm", format="A4")
    scratch.core_fonts_encoding = TEXT_ENCODING
    face.register(scratch, bold=False)
    scratch.add_page()
    scratch.set_font(face.family, "", font_size)
    lines = scratch.multi_cell(width, DOOR_LINE_MM, text, dry_run=True, output="LINES")
    assert isinstance(lines, list)  # noqa: S101 - what output="LINES" returns
    return tuple(lines)


def _row(pdf: FPDF, face: Typeface, label: str, value: str) -> None:
    pdf.set_text_color(*MUTED)
    pdf.set_font(face.family, "", 10)
    top = pdf.get_y()
    pdf.cell(LABEL_WIDTH_MM, 7, face.printable(label))
    pdf.set_text_color(*INK)
    pdf.set_font(face.family, "B", 12)
    pdf.set_xy(pdf.l_margin + LABEL_WIDTH_MM, top)
    _text(pdf, face, pdf.epw - LABEL_WIDTH_MM, 7, value)
    pdf.ln(1)


def _text(pdf: FPDF, face: Typeface, width: float, height: float, text: str) -> None:
    """`text` on one line when it fits (cheap), else wrapped; the cursor goes to the next line."""
    text = face.printable(text)
    if pdf.get_string_width(text) <= width - 2 * pdf.c_margin:
        pdf.cell(width, height, text, new_x="LMARGIN", new_y="NEXT")
    else:
        pdf.multi_cell(width, height, text, align="L", new_x="LMARGIN", new_y="NEXT")


def _rule(pdf: FPDF) -> None:
    pdf.set_draw_color(*RULE)
    pdf.set_line_width(0.3)
    y = pdf.get_y() + 1
    pdf.line(pdf.l_margin, y, pdf.l_margin + pdf.epw, y)
    pdf.set_y(y + 3)


def _qr(pdf: FPDF, code: str, left: float, top: float, size: float) -> None:
    """The QR symbol (quiet zone included) as black squares, one rectangle per run of modules."""
    matrix = qr_matrix(code)
    module = size / len(matrix)
    pdf.set_fill_color(0, 0, 0)
    for row_index, row in enumerate(matrix):
        column = 0
        while column < len(row):
            if not row[column]:
                column += 1
                continue
            start = column
            while column < len(row) and row[column]:
                column += 1
            pdf.rect(
                left + start * module,
                top + row_index * module,
                (column - start) * module,
                module + SEAM_MM,
                style="F",
            )


def _shown(character: str, face: Typeface) -> str:
    """`character` if `face` has a glyph for it, else without its accent (or in its plain form:
    a ligature's letters, a styled letter's letter) where `face` has that, else `?`."""
    if face.shows(character):
        return character
    plain = "".join(c for c in unicodedata.normalize("NFKD", character) if not unicodedata.combining(c))
    return plain if plain and plain.isprintable() and face.shows(plain) else "?"
