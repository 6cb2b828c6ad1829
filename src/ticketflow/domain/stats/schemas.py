"""Response bodies of the stats API."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec

from ticketflow.db.models.events import EventStatus

Cents = Annotated[int, msgspec.Meta(description="amount in cents of `currency`")]
Rate = Annotated[
    float,
    msgspec.Meta(ge=0, le=1, description="checked_in / tickets_sold (0 when nothing is sold)"),
]


class Figures(msgspec.Struct):
    """Seat and door counts, of one event or summed over all."""

    capacity: int
    tickets_sold: int
    """Tickets active or used (paid or free)."""
    tickets_held: int
    """Tickets of unpaid orders, reserved until the order expires."""
    tickets_available: int
    """capacity - sold - held, as `GET /events/{id}` reports it."""
    tickets_cancelled: int
    checked_in: int
    """Tickets admitted at the door (status `used`)."""
    check_in_rate: Rate
    scans_refused: int
    """Scans of the event's tickets answered `already_used` or `invalid`."""
    duplicate_admissions: int
    """Admissions of tickets admitted before (offline doors, found at sync): see
    `GET /events/{id}/duplicate-admissions`."""


class Money(msgspec.Struct):
    """Money of paid orders, in the event's currency."""

    gross_cents: Cents
    """What paid orders were charged (after their discounts)."""
    refunded_cents: Cents
    revenue_cents: Cents
    """gross_cents - refunded_cents."""


class TypeFigures(Money):
    """One ticket type of an event. Summed over the types, sold, held, checked in and money are
    the event's."""

    ticket_type_id: int
    name: str
    price_cents: Cents
    capacity: int | None
    """Its own cap inside the event's capacity; null: only the event's."""
    hidden: bool
    active: bool
    tickets_sold: int
    tickets_held: int
    tickets_available: int
    """min(the type's seats left, the event's seats left)."""
    tickets_cancelled: int
    checked_in: int


class VoucherFigures(Money):
    """One voucher of an event: what the orders redeeming it bought and paid."""

    voucher_id: int
    code: str
    kind: str
    value: int
    max_uses: int | None
    uses: int
    """Orders holding a use now (pending or paid)."""
    orders_paid: int
    tickets_sold: int
    tickets_held: int
    checked_in: int
    discount_cents: Cents
    """Taken off the lines of its paid orders."""


class EventFigures(Figures):
    """Sales and door figures of one event; money in the event's currency."""

    event_id: int
    title: str
    starts_at: dt.datetime
    timezone: str
    status: EventStatus
    currency: str
    gross_cents: Cents
    """Sum of the amounts of paid orders."""
    refunded_cents: Cents
    revenue_cents: Cents
    """gross_cents - refunded_cents."""
    ticket_types: list[TypeFigures] = msgspec.field(default_factory=list)
    """Per ticket type, in the order buyers see them."""


class CurrencyRevenue(msgspec.Struct):
    currency: str
    gross_cents: int
    refunded_cents: int
    revenue_cents: int


class Totals(Figures):
    """Sums over every event. Money is summed per currency."""

    events: int
    revenue: list[CurrencyRevenue]


class DailySales(msgspec.Struct):
    date: Annotated[str, msgspec.Meta(description="ISO date", examples=["2030-06-01"])]
    tickets: int
    """Tickets sold that day and still valid (active or used)."""


class CheckInSlot(msgspec.Struct):
    starts_at: dt.datetime
    """Start of a 15-minute slot."""
    admitted: int
    refused: int


class StatsOverview(msgspec.Struct):
    """`GET /stats`: every event, the totals and sales per day (UTC days)."""

    generated_at: dt.datetime
    totals: Totals
    events: list[EventFigures]
    sales_per_day: list[DailySales]


class EventStats(msgspec.Struct):
    """`GET /events/{id}/stats`: one event's figures, sales per day and check-ins per 15 minutes.

    Days and slots are in the event's own time zone; only days and slots with activity are listed.
    """

    generated_at: dt.datetime
    figures: EventFigures
    sales_per_day: list[DailySales]
    check_ins_per_15_min: list[CheckInSlot]
    vouchers: list[VoucherFigures] = msgspec.field(default_factory=list)
    """Per voucher of the event, by code."""
