"""How figures read in the back office: money with its currency, rates as percentages, UTC times."""

from __future__ import annotations

import datetime as dt

from ticketflow.lib.money import format_money


def money(cents: int, currency: str) -> str:
    return format_money(cents, currency)


def percent(rate: float) -> str:
    return f"{rate * 100:.1f} %"


def utc_text(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def utc_minutes(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
