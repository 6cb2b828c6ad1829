"""How figures read in the back office: money and rates in the reader's language, UTC times."""

from __future__ import annotations

import datetime as dt

from babel.numbers import format_percent

from ticketflow.lib.i18n import FORMAT_LOCALES, as_language, current_language
from ticketflow.lib.money import format_money


def percent(rate: float) -> str:
    """`12.5 %` (Spanish: `12,5 %`), in the back office reader's language."""
    return format_percent(rate, "#,##0.0 %", locale=FORMAT_LOCALES[as_language(current_language())])


def money_text(amount_cents: int, currency: str) -> str:
    """Money with its currency, in the reader's language (`1,500.00 EUR`, `1.500,00 EUR`)."""
    return format_money(amount_cents, currency, current_language())


def utc_text(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def utc_minutes(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
