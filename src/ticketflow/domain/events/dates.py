"""The dates an event, its ticket types and its vouchers may carry.

A time is stored as naive UTC: one near the year 1 or 9999 with an offset has no UTC value
(`0001-01-01T00:00+09:00` is before `datetime.min`), and a year past 2999 is a typing mistake.
Every service checks its dates here before comparing or storing them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from ticketflow.lib.errors import RuleViolation
from ticketflow.lib.i18n import N_

LAST_YEAR = 2999
"""Dates after this are refused: they are typing mistakes, and year 9999 plus an offset overflows."""


def in_supported_range(moment: dt.datetime) -> bool:
    try:
        return moment.astimezone(dt.UTC).year <= LAST_YEAR
    except OverflowError:  # e.g. 0001-01-01T00:00+01:00 is before datetime.min in UTC
        return False


def check_supported_dates(values: Mapping[str, Any], names: Iterable[str]) -> None:
    """Each of the `names` in `values` that is set is a storable date, else `RuleViolation` (422)."""
    for name in names:
        moment: dt.datetime | None = values.get(name)
        if moment is not None and not in_supported_range(moment):
            raise RuleViolation(
                N_("%(field)s must be a date before the year %(year)s"),
                values={"field": name, "year": LAST_YEAR + 1},
                field=name,
            )
