"""Request and response bodies of the tickets API."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec

from ticketflow.db.models.orders import OrderStatus
from ticketflow.db.models.tickets import TicketStatus
from ticketflow.domain.accounts.schemas import Email, Name
from ticketflow.domain.payments.schemas import Payment
from ticketflow.lib.pagination import Page, schema_name

MAX_QUANTITY = 100
"""The most tickets any event lets an order buy (`max_per_order` is at most this)."""
Quantity = Annotated[
    int,
    msgspec.Meta(
        description="1..the event's (and the type's) max_per_order; outside it: 422",
        extra_json_schema={"extra": {"minimum": 1, "maximum": MAX_QUANTITY}},
    ),
]
"""Documented with its bounds but checked by the purchase (`check_quantity`): a quantity outside
them is a rule of the sale broken (422, as the contract says), not a malformed body (400)."""
VoucherCode = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=64,
        description="The voucher's code, compared exactly; no voucher of the event: 422 unknown_voucher",
    ),
]


class PurchaseItem(msgspec.Struct, forbid_unknown_fields=True):
    ticket_type_id: Annotated[int, msgspec.Meta(ge=1, le=2**53 - 1)]
    quantity: Quantity


class PurchaseRequest(msgspec.Struct, forbid_unknown_fields=True):
    """`{quantity}` buys the event's single visible type; `{items}` chooses among several."""

    quantity: Quantity | msgspec.UnsetType = msgspec.UNSET
    items: Annotated[list[PurchaseItem], msgspec.Meta(min_length=1, max_length=20)] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    voucher_code: VoucherCode | None = None


class OrderLine(msgspec.Struct):
    ticket_type_id: int
    name: str
    """The type's name when the order was placed."""
    quantity: int
    unit_price_cents: int
    discount_cents: int
    """Discount on the whole line."""
    tax_rate: float
    """Percent included in the amount."""
    amount_cents: int
    """quantity x unit price - discount."""


class Order(msgspec.Struct):
    id: int
    user_id: int
    event_id: int
    quantity: int
    amount_cents: int
    currency: str
    status: OrderStatus
    expires_at: dt.datetime | None
    created_at: dt.datetime
    lines: list[OrderLine]
    voucher_code: str | None


class Ticket(msgspec.Struct):
    id: int
    order_id: int
    user_id: int
    event_id: int
    code: Annotated[
        str,
        msgspec.Meta(
            description=(
                "The string in the QR code. Empty while the ticket is unpaid (`pending`): it comes"
                " with the payment. Empty too in the answers that show the ticket to a holder"
                " who gave it away (the transfer's, a replayed purchase's): the giver keeps no"
                " working code."
            )
        ),
    ]
    status: TicketStatus
    used_at: dt.datetime | None
    created_at: dt.datetime
    ticket_type_id: int | None
    ticket_type_name: str | None
    attendee_name: str | None = None
    """Who attends with the ticket: the name its holder gave, else the holder's own name."""
    event_title: str | None = None
    event_venue: str | None = None
    event_starts_at: dt.datetime | None = None


class TicketUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """What the holder may change on a ticket."""

    attendee_name: Annotated[
        Name | None,
        msgspec.Meta(description="who attends with this ticket; null gives it back the holder's name"),
    ]


class TicketTransferRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Who receives the ticket: a registered user, by e-mail address."""

    email: Email


class Purchase(msgspec.Struct):
    order: Order
    tickets: list[Ticket]
    payment: Payment | None


TicketPage = Annotated[Page[Ticket], schema_name("TicketPage")]
OrderPage = Annotated[Page[Order], schema_name("OrderPage")]
