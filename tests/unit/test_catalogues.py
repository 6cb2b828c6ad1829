"""The catalogues: every text of the product translated, placeholders intact, shipped in the wheel."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from ticketflow.lib.i18n import LOCALES, catalogue_folder

ROOT = Path(__file__).resolve().parents[2]
LOCALE_DIR = ROOT / "src" / "ticketflow" / "locale"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|\{(\w+)\}")
TRANSLATED = [locale for locale in LOCALES if (LOCALE_DIR / locale).is_dir()]


def placeholders(text: str) -> set[str]:
    return {"".join(match) for match in PLACEHOLDER.findall(text)}


def source_texts() -> set[str | tuple[str, str]]:
    """Every text the code and templates mark for translation, read as `make catalogues` reads them."""
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    keywords = {**DEFAULT_KEYWORDS, "lazy_gettext": None}
    texts: set[str | tuple[str, str]] = set()
    for _, _, message, _, _ in extract_from_dir(str(ROOT), method_map, options_map, keywords=keywords):
        texts.add(message if isinstance(message, str) else (message[0], message[1]))
    return texts


def catalogue(locale: str) -> Catalog:
    with (LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return read_po(po, locale=locale)


@pytest.fixture(scope="module")
def texts() -> set[str | tuple[str, str]]:
    found = source_texts()
    assert len(found) > 20
    return found


def test_template_lists_every_text(texts) -> None:
    with (LOCALE_DIR / "messages.pot").open("rb") as pot:
        template = {message.id for message in read_po(pot) if message.id}
    assert template == texts, "run `make catalogues`"


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_text_is_translated_with_the_same_placeholders(texts, locale) -> None:
    messages = {message.id: message for message in catalogue(locale) if message.id}
    assert not sorted(map(str, texts - messages.keys())), "texts missing from the catalogue"
    for text in texts:
        message = messages[text]
        assert not message.fuzzy, text
        if isinstance(text, str):
            assert isinstance(message.string, str)
            assert message.string, text
            assert placeholders(message.string) == placeholders(text), text
        else:
            singular, plural = text
            assert all(message.string), text
            assert placeholders(message.string[0]) == placeholders(singular), text
            for form in message.string[1:]:
                assert placeholders(form) == placeholders(plural), text


def test_placeholder_check_sees_a_difference() -> None:
    assert placeholders("Hola, %(nombre)s:") != placeholders("Hello %(name)s,")
    assert placeholders("Tus %(count)d entradas") == placeholders("Your %(count)d tickets")


def test_installed_wheel_speaks_spanish(tmp_path: Path) -> None:
    """A wheel carries the catalogues; imported from it alone, the product speaks Spanish."""
    from hatchling.builders.wheel import WheelBuilder

    (wheel,) = WheelBuilder(str(ROOT)).build(directory=str(tmp_path / "dist"), versions=["standard"])
    with zipfile.ZipFile(wheel) as archive:
        assert "ticketflow/locale/es/LC_MESSAGES/messages.po" in archive.namelist()
        archive.extractall(tmp_path / "site")
    probe = (
        "import ticketflow; from ticketflow.lib.i18n import catalogue_folder, gettext_for;"
        "print(ticketflow.__file__); print(catalogue_folder()); print(gettext_for('es')('Event'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env={"PYTHONPATH": str(tmp_path / "site")},
        capture_output=True,
        text=True,
        check=True,
    )
    module, folder, word = result.stdout.splitlines()
    assert module.startswith(str(tmp_path / "site"))
    assert folder.startswith(str(tmp_path / "site"))
    assert word == "Evento"


def test_catalogues_load_from_the_package() -> None:
    assert Path(str(catalogue_folder())) == LOCALE_DIR
