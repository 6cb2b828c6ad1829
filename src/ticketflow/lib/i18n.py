"""Languages: the gettext catalogues, choosing a locale, and dates written for a locale.

Every text a person reads (e-mails, pages, back office labels) is written in English in the
code and templates and translated through the catalogues in `ticketflow/locale/<lang>/
LC_MESSAGES/messages.po`. The `.po` files are compiled in memory the first time a language is
used, so an installed package needs no build step to speak every language it ships.

The small API the rest of the product uses:

* `gettext_for(locale)` / `ngettext_for(locale)`: translation functions for one locale.
* `install_i18n(env, locale_of)`: Jinja2's i18n extension on an environment whose `{% trans %}`
  blocks and `_()` calls follow `locale_of(template context)` (e.g. a `locale` variable).
* `negotiate_locale(accept_language)`: the best supported locale for an `Accept-Language` header;
  `request_locale(request)` the same for a request (a Litestar dependency).
* `format_date`, `format_time`, `format_datetime`: Babel's formatting for a locale and time zone
  (money: `ticketflow.lib.money.format_money`).

API error `detail` texts and machine-readable codes are not translated.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import gettext
import io
from collections.abc import Callable
from contextvars import ContextVar
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, dates
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from jinja2 import Environment, pass_context
from jinja2.runtime import Context
from litestar.connection import ASGIConnection
from markupsafe import escape

from ticketflow.db.models.users import Language

DEFAULT_LOCALE = Language.EN
W = TypeVar("W")
LOCALES = tuple(Language)
DOMAIN = "messages"
FORMAT_LOCALES = {Language.EN: "en_GB", Language.ES: "es_ES"}
"""The Babel locale whose dates and numbers a language uses (British English: 1 July 2030)."""
LONG_DATE = {Language.EN: "EEEE d MMMM y", Language.ES: "EEEE, d 'de' MMMM 'de' y"}

current_locale: ContextVar[Language] = ContextVar("ticketflow_locale", default=DEFAULT_LOCALE)
"""The locale of the request being served, for texts read where no locale is passed (the back
office's view labels, defined once on classes). Set per request by the pages that use it."""


def catalogue_folder() -> Traversable:
    """`ticketflow/locale` inside the installed package."""
    return resources.files("ticketflow") / "locale"


def as_language(value: str | None) -> Language:
    """`value` when it names a supported locale, else the default."""
    try:
        return Language(value or DEFAULT_LOCALE)
    except ValueError:
        return DEFAULT_LOCALE


@functools.cache
def translations(locale: Language) -> gettext.NullTranslations:
    """The compiled catalogue of `locale` (English, the source language, needs none)."""
    po_file = catalogue_folder() / str(locale) / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po_file.is_file():
        return gettext.NullTranslations()
    with po_file.open("rb") as source:
        catalogue = read_po(source, locale=str(locale), domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalogue)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def gettext_for(locale: str) -> Callable[[str], str]:
    return translations(as_language(locale)).gettext


def ngettext_for(locale: str) -> Callable[[str, str, int], str]:
    return translations(as_language(locale)).ngettext


def N_(message: str) -> str:  # noqa: N802 - the name gettext tools look for
    """Marks a text for the catalogues where it is defined; translate it where it is shown."""
    return message


class LazyText:
    """A text translated into `current_locale` each time it is shown.

    For labels defined once on classes (the back office's views and columns): hashable by its
    English text, shown through `str()` or, escaped, through `__html__` in templates.
    """

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message

    def __str__(self) -> str:
        return translations(current_locale.get()).gettext(self.message)

    def __html__(self) -> str:
        return str(escape(str(self)))

    def __repr__(self) -> str:
        return f"LazyText({self.message!r})"

    def __hash__(self) -> int:
        return hash(self.message)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LazyText):
            return other.message == self.message
        return str(self) == other

    def __add__(self, other: str) -> str:
        return str(self) + other

    def __radd__(self, other: str) -> str:
        return other + str(self)

    def __len__(self) -> int:
        return len(str(self))


def translated(wording: W, locale: str) -> W:
    """A copy of `wording` (a dataclass whose fields are texts marked with `N_`) in `locale`."""
    _ = gettext_for(locale)
    texts = {
        field.name: _(value)
        for field in dataclasses.fields(wording)  # type: ignore[arg-type]
        if isinstance(value := getattr(wording, field.name), str)
    }
    return dataclasses.replace(wording, **texts)  # type: ignore[type-var]


def lazy_gettext(message: str) -> str:
    """A `LazyText`, typed as the `str` it stands for wherever a label is expected."""
    return cast(str, LazyText(message))


def parse_accept_language(header: str) -> list[str]:
    """The language tags of an `Accept-Language` header, most wanted first (q=0 and `*` left out)."""
    weighted: list[tuple[float, int, str]] = []
    for position, item in enumerate(header.split(",")):
        tag, _, params = item.strip().partition(";")
        tag = tag.strip()
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and tag != "*" and 0.0 < quality <= 1.0:
            weighted.append((-quality, position, tag))
    return [tag for _, _, tag in sorted(weighted)]


def negotiate_locale(accept_language: str | None) -> Language:
    """The supported locale a browser prefers (`es-ES,es;q=0.9,en;q=0.8` -> es), else English."""
    preferred = parse_accept_language(accept_language or "")
    chosen = Locale.negotiate(preferred, [str(locale) for locale in LOCALES], sep="-")
    return as_language(chosen.language if chosen is not None else None)


def request_locale(request: ASGIConnection[Any, Any, Any, Any]) -> Language:
    """The language of a page for a request without a known user: its `Accept-Language`.

    Usable as a Litestar dependency (`Provide(request_locale, sync_to_thread=False)`).
    """
    return negotiate_locale(request.headers.get("accept-language"))


def in_reader_language(app: Any) -> Any:
    """An ASGI app that serves `app` with `current_locale` set from the request's `Accept-Language`
    (a signed-in user's own choice may replace it while the request is handled)."""

    async def localised(scope: Any, receive: Any, send: Any) -> None:
        header = next((value for name, value in scope.get("headers", []) if name == b"accept-language"), b"")
        token = current_locale.set(negotiate_locale(header.decode("latin-1")))
        try:
            await app(scope, receive, send)
        finally:
            current_locale.reset(token)

    return localised


def current_language(context: Context | None = None) -> str:
    """`locale_of` for templates that follow `current_locale` (the back office)."""
    return current_locale.get()


def zone_of(timezone: str) -> dt.tzinfo:
    """The named IANA time zone; UTC for an unknown name."""
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def format_date(moment: dt.datetime, timezone: str, locale: str) -> str:
    """`Monday 1 July 2030` / `lunes, 1 de julio de 2030`, on the calendar of `timezone`."""
    language = as_language(locale)
    local = moment.astimezone(zone_of(timezone))
    return dates.format_date(local.date(), LONG_DATE[language], locale=FORMAT_LOCALES[language])


def format_time(moment: dt.datetime, timezone: str, locale: str) -> str:
    """`20:30`, in `timezone`."""
    language = as_language(locale)
    local = moment.astimezone(zone_of(timezone))
    return dates.format_time(local, "short", locale=FORMAT_LOCALES[language])


def format_datetime(moment: dt.datetime, timezone: str, locale: str, format: str = "medium") -> str:
    """Date and time in `timezone` in Babel's `short`/`medium`/`long`/`full` style for `locale`."""
    language = as_language(locale)
    local = moment.astimezone(zone_of(timezone))
    return dates.format_datetime(local, format, tzinfo=local.tzinfo, locale=FORMAT_LOCALES[language])


def install_i18n(environment: Environment, locale_of: Callable[[Context], str]) -> None:
    """Jinja2's i18n extension with translations chosen per render by `locale_of(context)`.

    Templates use `{% trans %}...{% endtrans %}` (whitespace trimmed, as when extracting) or
    `{{ _("Text %(name)s", name=value) }}`; placeholders are escaped like any other value.
    """
    environment.add_extension("jinja2.ext.i18n")
    environment.policies["ext.i18n.trimmed"] = True

    @pass_context
    def translate(context: Context, message: str) -> str:
        return gettext_for(locale_of(context))(message)

    @pass_context
    def translate_plural(context: Context, singular: str, plural: str, count: int) -> str:
        return ngettext_for(locale_of(context))(singular, plural, count)

    environment.install_gettext_callables(  # type: ignore[attr-defined]
        translate, translate_plural, newstyle=True
    )


def locale_variable(context: Context) -> str:
    """`locale_of` for templates rendered with a `locale` variable."""
    value: Any = context.get("locale")
    return str(value) if value else DEFAULT_LOCALE
