"""Request and response bodies of the events API."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec

from ticketflow.db.models.events import (
    DESCRIPTION_MAX,
    TIMEZONE_MAX,
    TITLE_MAX,
    VENUE_MAX,
    EventStatus,
)
from ticketflow.domain.accounts.schemas import END, PRINTABLE_PATTERN
from ticketflow.lib.pagination import Page, schema_name

TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*" + END
MAX_CAPACITY = 1_000_000
MAX_PRICE_CENTS = 100_000_000
MAX_PER_ORDER_LIMIT = 100

Title = Annotated[
    str,
    msgspec.Meta(min_length=1, max_length=TITLE_MAX, pattern=PRINTABLE_PATTERN, examples=["Jazz Night"]),
]
Venue = Annotated[
    str,
    msgspec.Meta(min_length=1, max_length=VENUE_MAX, pattern=PRINTABLE_PATTERN, examples=["Blue Hall, Lyon"]),
]
Description = Annotated[
    str,
    msgspec.Meta(
        max_length=DESCRIPTION_MAX,
        pattern=TEXT_PATTERN,
        description="Free text; line breaks and tabs allowed, other control characters not.",
    ),
]
AwareDateTime = Annotated[
    dt.datetime,
    msgspec.Meta(tz=True, description="ISO 8601 with offset", examples=["2030-06-01T20:00:00+02:00"]),
]
Capacity = Annotated[int, msgspec.Meta(ge=1, le=MAX_CAPACITY, description="total tickets")]
PriceCents = Annotated[int, msgspec.Meta(ge=0, le=MAX_PRICE_CENTS, description="0 = free")]
Currency = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$", description="ISO 4217", examples=["EUR"])]
MaxPerOrder = Annotated[int, msgspec.Meta(ge=1, le=MAX_PER_ORDER_LIMIT)]
TimeZoneName = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=TIMEZONE_MAX,
        description="IANA time zone",
        examples=["Europe/Paris"],
    ),
]


class EventCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A new event (also the body of a full update with PUT)."""

    title: Title
    venue: Venue
    starts_at: AwareDateTime
    capacity: Capacity
    description: Description = ""
    ends_at: AwareDateTime | None = None
    price_cents: PriceCents = 0
    currency: Currency = "EUR"
    max_per_order: MaxPerOrder = 10
    timezone: TimeZoneName = "UTC"
    sales_start_at: AwareDateTime | None = None
    sales_end_at: AwareDateTime | None = None


class EventPatch(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A partial update: only the fields sent change."""

    title: Title | msgspec.UnsetType = msgspec.UNSET
    venue: Venue | msgspec.UnsetType = msgspec.UNSET
    starts_at: AwareDateTime | msgspec.UnsetType = msgspec.UNSET
    capacity: Capacity | msgspec.UnsetType = msgspec.UNSET
    description: Description | msgspec.UnsetType = msgspec.UNSET
    ends_at: AwareDateTime | msgspec.UnsetType | None = msgspec.UNSET
    price_cents: PriceCents | msgspec.UnsetType = msgspec.UNSET
    currency: Currency | msgspec.UnsetType = msgspec.UNSET
    max_per_order: MaxPerOrder | msgspec.UnsetType = msgspec.UNSET
    timezone: TimeZoneName | msgspec.UnsetType = msgspec.UNSET
    sales_start_at: AwareDateTime | msgspec.UnsetType | None = msgspec.UNSET
    sales_end_at: AwareDateTime | msgspec.UnsetType | None = msgspec.UNSET


class Event(msgspec.Struct):
    id: int
    title: str
    description: str
    venue: str
    starts_at: dt.datetime
    ends_at: dt.datetime | None
    date: str
    """Local date at the venue (`timezone`)."""
    time: str
    """Local start time at the venue."""
    timezone: str
    capacity: int
    tickets_sold: int
    tickets_held: int
    tickets_available: int
    price_cents: int
    currency: str
    max_per_order: int
    status: EventStatus
    sales_start_at: dt.datetime | None
    sales_end_at: dt.datetime | None
    admin_id: int | None
    created_at: dt.datetime
    updated_at: dt.datetime


EventPage = Annotated[Page[Event], schema_name("EventPage")]
