"""When tickets may be bought: the event's state, its start and its sales window, without a database."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import pytest

from ticketflow.db.models.events import EventStatus
from ticketflow.domain.tickets.purchase import SalesClosed, check_sales_open
from ticketflow.lib.errors import RuleViolation

NOW = dt.datetime(2030, 5, 1, 12, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


@dataclass(frozen=True)
class Window:
    status: str = EventStatus.SCHEDULED
    starts_at: dt.datetime = NOW + 24 * HOUR
    sales_start_at: dt.datetime | None = None
    sales_end_at: dt.datetime | None = None
    max_per_order: int = 4


@pytest.mark.parametrize(
    "window",
    [
        Window(),
        Window(sales_start_at=NOW),  # opens at this very moment
        Window(sales_start_at=NOW - HOUR, sales_end_at=NOW + HOUR),
        Window(starts_at=NOW + dt.timedelta(microseconds=1)),
    ],
)
def test_sales_are_open(window: Window) -> None:
    check_sales_open(window, 4, NOW)


@pytest.mark.parametrize(
    ("window", "detail"),
    [
        (Window(status=EventStatus.CANCELLED), "the event is cancelled"),
        (Window(starts_at=NOW), "the event has already started"),
        (Window(starts_at=NOW - HOUR), "the event has already started"),
        (Window(sales_start_at=NOW + dt.timedelta(seconds=1)), "ticket sales have not started yet"),
        (Window(sales_end_at=NOW), "ticket sales have ended"),  # the end is exclusive
        (Window(sales_end_at=NOW - HOUR), "ticket sales have ended"),
    ],
)
def test_sales_are_closed(window: Window, detail: str) -> None:
    with pytest.raises(SalesClosed) as refused:
        check_sales_open(window, 1, NOW)
    assert refused.value.detail == detail


def test_not_started_sales_say_when_they_open() -> None:
    opens = NOW + 2 * HOUR
    with pytest.raises(SalesClosed) as refused:
        check_sales_open(Window(sales_start_at=opens), 1, NOW)
    assert refused.value.extra == {"sales_start_at": opens.isoformat()}


def test_a_cancelled_event_is_closed_whatever_its_window() -> None:
    window = replace(Window(status=EventStatus.CANCELLED), sales_start_at=NOW - HOUR, sales_end_at=NOW + HOUR)
    with pytest.raises(SalesClosed, match="cancelled"):
        check_sales_open(window, 1, NOW)


def test_quantity_above_the_limit_per_order_is_a_broken_rule() -> None:
    with pytest.raises(RuleViolation) as refused:
        check_sales_open(Window(max_per_order=4), 5, NOW)
    assert not isinstance(refused.value, SalesClosed)
    assert refused.value.extra == {"max_per_order": 4}
