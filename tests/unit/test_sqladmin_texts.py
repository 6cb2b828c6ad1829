"""SQLAdmin's own texts are in the catalogues: a Spanish admin sees its buttons in Spanish."""

from __future__ import annotations

from pathlib import Path

import sqladmin
from babel.messages.extract import extract_from_dir

from ticketflow.admin.mount import TEMPLATES, in_admin_language
from ticketflow.admin.sqladmin_texts import SQLADMIN_TEXTS
from ticketflow.lib.i18n import gettext_for

SQLADMIN_TEMPLATES = Path(sqladmin.__file__).parent / "templates"


def shown_texts() -> set[str]:
    """Every `_()` text of SQLAdmin's templates, but those of the templates ours replace."""
    replaced = {path.relative_to(TEMPLATES).as_posix() for path in TEMPLATES.glob("sqladmin/**/*.html")}
    method_map = [("**.html", "jinja2")]
    options = {"**.html": {"trimmed": "true", "extensions": "jinja2.ext.i18n"}}
    return {
        message
        for name, _, message, _, _ in extract_from_dir(str(SQLADMIN_TEMPLATES), method_map, options)
        if name not in replaced and isinstance(message, str)
    }


def test_every_text_sqladmin_shows_is_listed_and_translated() -> None:
    texts = shown_texts()
    assert {
        "Export",
        "Search",
        "Delete selected items",
        "Showing %(start)s to %(end)s of %(count)s items",
    } <= texts
    assert not sorted(texts - set(SQLADMIN_TEXTS)), "list them in ticketflow/admin/sqladmin_texts.py"
    spanish = gettext_for("es")
    assert not [text for text in texts if spanish(text) == text]
    assert spanish("Showing %(start)s to %(end)s of %(count)s items") % {
        "start": 1,
        "end": 2,
        "count": 3,
    } == ("Mostrando del 1 al 2 de 3 elementos")


def test_our_base_page_is_sqladmins_but_for_the_page_language() -> None:
    """`sqladmin/base.html` is copied only to say the page's language; an SQLAdmin release that
    changes its base page fails here, to be copied again."""
    theirs = (SQLADMIN_TEMPLATES / "sqladmin" / "base.html").read_text()
    ours = (TEMPLATES / "sqladmin" / "base.html").read_text().splitlines(keepends=True)
    ours = [line for line in ours if not line.startswith("{#")]
    assert "".join(ours) == theirs.replace('<html lang="en">', '<html lang="{{ page_language() }}">')


def test_an_error_page_message_is_plain_text_and_no_format() -> None:
    """`sqladmin/error.html` shows its message through `in_admin_language`: a plain string, so
    the page escapes it, and a `%` in it is only a character (the templates' `_()` would mark it
    safe HTML and fill placeholders)."""
    shown = in_admin_language("<b>50% off</b>")
    assert (type(shown), shown) == (str, "<b>50% off</b>")
    error_page = (TEMPLATES / "sqladmin" / "error.html").read_text()
    assert "{{ message|in_admin_language }}" in error_page
