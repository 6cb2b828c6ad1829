"""How figures read in the back office: rates as percentages, UTC times (money: `lib.money`)."""

from __future__ import annotations

import datetime as dt


def percent(rate: float) -> str:
    return f"{rate * 100:.1f} %"


def utc_text(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def utc_minutes(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
