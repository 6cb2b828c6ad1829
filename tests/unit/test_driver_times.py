"""Times bound as text by the hand-written statements: the stored naive UTC value, whatever offset
the time carries (the quick path for UTC times must write what the general one writes)."""

from __future__ import annotations

import datetime as dt

import pytest

from ticketflow.db.driver import DriverConnection

TIMES = [
    dt.datetime(2030, 6, 1, 19, 42, 10, 123456, tzinfo=dt.UTC),
    dt.datetime(2030, 6, 1, 19, 42, 10, tzinfo=dt.UTC),
    dt.datetime(2030, 6, 1, 21, 42, 10, 5, tzinfo=dt.timezone(dt.timedelta(hours=2))),
    dt.datetime(2030, 6, 1, 14, 42, 10, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
]


@pytest.mark.parametrize("value", TIMES)
def test_mysql_binds_the_naive_utc_text(value: dt.datetime) -> None:
    bound = DriverConnection(object(), "mysql").bind_time(value)
    assert bound == value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ")
    assert dt.datetime.fromisoformat(bound).replace(tzinfo=dt.UTC) == value


@pytest.mark.parametrize("value", TIMES)
def test_sqlite_binds_microseconds_always(value: dt.datetime) -> None:
    bound = DriverConnection(object(), "sqlite").bind_time(value)
    assert len(bound) == len("2030-06-01 19:42:10.000000")
    assert dt.datetime.fromisoformat(bound).replace(tzinfo=dt.UTC) == value


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        DriverConnection(object(), "mysql").bind_time(dt.datetime(2030, 6, 1, 19, 42))  # noqa: DTZ001
