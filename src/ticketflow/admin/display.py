"""How figures read in the back office: rates as percentages, UTC times (money: `lib.money`)."""

from __future__ import annotations

import datetime as dt

from babel.numbers import format_percent

from ticketflow.lib.i18n import FORMAT_LOCALES, as_language, current_language


def percent(rate: float) -> str:
    """`12.5 %` (Spanish: `12,5 %`), in the back office reader's language."""
    return format_percent(rate, "#,##0.0 %", locale=FORMAT_LOCALES[as_language(current_language())])


def utc_text(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def utc_minutes(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
