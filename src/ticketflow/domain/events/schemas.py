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
from ticketflow.db.models.ticket_types import TYPE_DESCRIPTION_MAX, TYPE_NAME_MAX
from ticketflow.db.models.vouchers import VoucherKind
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
    ticket_types: list[TicketType] | None = None
    """The visible types on sale (all types for admins); only on single-event reads."""


EventPage = Annotated[Page[Event], schema_name("EventPage")]


TypeName = Annotated[
    str,
    msgspec.Meta(min_length=1, max_length=TYPE_NAME_MAX, pattern=PRINTABLE_PATTERN, examples=["Early bird"]),
]
TypeDescription = Annotated[str, msgspec.Meta(max_length=TYPE_DESCRIPTION_MAX, pattern=TEXT_PATTERN)]
TaxRate = Annotated[
    float,
    msgspec.Meta(
        ge=0, le=100, description="percent included in the price, up to two decimals", examples=[20, 5.5]
    ),
]
TypeCapacity = Annotated[
    int, msgspec.Meta(ge=0, le=MAX_CAPACITY, description="its own cap inside the event's capacity")
]
Position = Annotated[int, msgspec.Meta(ge=0, le=10_000)]


class TicketTypeCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: TypeName
    price_cents: PriceCents = 0
    description: TypeDescription = ""
    tax_rate: TaxRate = 0
    capacity: TypeCapacity | None = None
    max_per_order: MaxPerOrder | None = None
    sales_start_at: AwareDateTime | None = None
    sales_end_at: AwareDateTime | None = None
    hidden: bool = False
    position: Position | None = None
    active: bool = True


class TicketTypePatch(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    name: TypeName | msgspec.UnsetType = msgspec.UNSET
    price_cents: PriceCents | msgspec.UnsetType = msgspec.UNSET
    description: TypeDescription | msgspec.UnsetType = msgspec.UNSET
    tax_rate: TaxRate | msgspec.UnsetType = msgspec.UNSET
    capacity: TypeCapacity | msgspec.UnsetType | None = msgspec.UNSET
    max_per_order: MaxPerOrder | msgspec.UnsetType | None = msgspec.UNSET
    sales_start_at: AwareDateTime | msgspec.UnsetType | None = msgspec.UNSET
    sales_end_at: AwareDateTime | msgspec.UnsetType | None = msgspec.UNSET
    hidden: bool | msgspec.UnsetType = msgspec.UNSET
    position: Position | msgspec.UnsetType = msgspec.UNSET
    active: bool | msgspec.UnsetType = msgspec.UNSET


class TicketType(msgspec.Struct):
    id: int
    event_id: int
    name: str
    description: str
    price_cents: int
    currency: str
    tax_rate: float
    """Percent included in the price."""
    capacity: int | None
    sold: int
    held: int
    available: int
    """The smaller of this type's and the event's remaining seats."""
    max_per_order: int
    sales_start_at: dt.datetime | None
    sales_end_at: dt.datetime | None
    hidden: bool
    position: int
    active: bool


VoucherCode = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[A-Za-z0-9_-]{3,64}$",
        description="letters, digits, `-` and `_`; compared exactly (case counts)",
        examples=["EARLY-2031"],
    ),
]
VoucherValue = Annotated[
    int, msgspec.Meta(ge=0, le=MAX_PRICE_CENTS, description="percent for `percent`, else cents")
]
MaxUses = Annotated[int, msgspec.Meta(ge=1, le=MAX_CAPACITY)]
TypeIds = Annotated[list[Annotated[int, msgspec.Meta(ge=1, le=2**53 - 1)]], msgspec.Meta(max_length=100)]


class VoucherCreate(msgspec.Struct, forbid_unknown_fields=True):
    """One voucher with `code`, or `count` vouchers with random codes (not both)."""

    kind: VoucherKind
    value: VoucherValue = 0
    code: VoucherCode | None = None
    count: Annotated[int, msgspec.Meta(ge=1, le=1000, description="random codes to create")] | None = None
    ticket_type_ids: TypeIds = msgspec.field(default_factory=list)
    max_uses: MaxUses | None = 1
    valid_from: AwareDateTime | None = None
    valid_until: AwareDateTime | None = None
    unlocks_hidden: bool = False


class VoucherPatch(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    kind: VoucherKind | msgspec.UnsetType = msgspec.UNSET
    value: VoucherValue | msgspec.UnsetType = msgspec.UNSET
    ticket_type_ids: TypeIds | msgspec.UnsetType = msgspec.UNSET
    max_uses: MaxUses | msgspec.UnsetType | None = msgspec.UNSET
    valid_from: AwareDateTime | msgspec.UnsetType | None = msgspec.UNSET
    valid_until: AwareDateTime | msgspec.UnsetType | None = msgspec.UNSET
    unlocks_hidden: bool | msgspec.UnsetType = msgspec.UNSET


class Voucher(msgspec.Struct):
    id: int
    event_id: int
    code: str
    kind: VoucherKind
    value: int
    ticket_type_ids: list[int]
    """Empty: every type of the event."""
    max_uses: int | None
    uses: int
    valid_from: dt.datetime | None
    valid_until: dt.datetime | None
    unlocks_hidden: bool
    created_at: dt.datetime
