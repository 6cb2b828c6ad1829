"""The one small interface every payment provider implements, and what flows through it.

A provider opens a checkout for an order, tells the application that money arrived (a
`PaymentNotice`, built from a verified webhook or from its own page) and refunds money. Everything
else - which order a payment pays, late or duplicate money, refunds owed - is decided once, for
every provider, by the settlement rules in `settlement.py`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from ticketflow.lib.errors import ConflictError, NotFoundError, RuleViolation
from ticketflow.lib.i18n import N_

PROVIDER_ID_PATTERN = r"^[A-Za-z0-9_-]+$"
"""The shape of ids providers give out (Stripe: `cs_test_...`, `pi_...`, `evt_...`)."""


class ProviderError(Exception):
    """The provider could not be reached or refused the call; the caller may try again later."""


class PaymentProviderUnavailable(ConflictError):
    detail = N_("the payment provider is unavailable; retry the purchase with the same Idempotency-Key")


class UnknownCheckout(NotFoundError):
    detail = N_("no checkout of this order is known")


class NoticeRejected(RuleViolation):
    """A provider notification that cannot be about one of our orders (nothing is stored)."""

    detail = N_("the payment notification does not match its order")


@dataclass(frozen=True, slots=True)
class CheckoutLine:
    """One priced line of a checkout: `quantity` items of `unit_amount_cents` each."""

    name: str
    quantity: int
    unit_amount_cents: int


def checkout_lines(title: str, lines: list[tuple[str, int, int]]) -> tuple[CheckoutLine, ...]:
    """The checkout's lines for order lines `(type name, quantity, amount)`: they add up to the
    order's amount to the cent. A line whose amount does not divide by its quantity is split in
    two (the last item carries the remainder); an order of one line is named after the event."""
    several = len(lines) > 1
    result: list[CheckoutLine] = []
    for type_name, quantity, amount in lines:
        name = f"{title} - {type_name}" if several else title
        unit, remainder = divmod(amount, quantity)
        if remainder:
            if quantity > 1:
                result.append(CheckoutLine(name, quantity - 1, unit))
            result.append(CheckoutLine(name, 1, unit + remainder))
        else:
            result.append(CheckoutLine(name, quantity, unit))
    return tuple(result)


@dataclass(frozen=True, slots=True)
class CheckoutRequest:
    """What a provider needs to sell one pending order. Amounts are integer minor units."""

    order_id: int
    title: str
    lines: tuple[CheckoutLine, ...]
    """What is sold, adding up to the order's amount."""
    currency: str
    customer_email: str | None
    expires_at: dt.datetime
    """When the seats stop being held; the checkout should not outlive it by much."""
    ordered_at: dt.datetime
    """When the order was made: what a checkout's own times derive from, the same for each retry."""
    idempotency_key: str
    """Sent with the provider call (a provider may append to it): a retry returns the same checkout."""


@dataclass(frozen=True, slots=True)
class OpenedCheckout:
    external_id: str
    url: str
    expires_at: dt.datetime
    access_token: str | None = None


@dataclass(frozen=True, slots=True)
class PaymentNotice:
    """A provider's verified word that money arrived for an order."""

    provider: str
    event_id: str
    """Id of the notification itself: a replay carries the same id and changes nothing."""
    event_type: str
    checkout_id: str
    order_id: int
    payment_id: str
    """Id of the money movement: the same payment reported twice is counted once."""
    amount_cents: int
    currency: str


@dataclass(frozen=True, slots=True)
class RefundRequest:
    refund_id: int
    order_id: int
    provider_payment_id: str
    amount_cents: int
    currency: str
    idempotency_key: str
    """Sent with the provider call: a retry after a failure never pays twice."""


def idempotency_key(kind: str, row_id: int, created_at: dt.datetime) -> str:
    """Unique across databases too (a reset database reuses ids, never creation times)."""
    return f"ticketflow-{kind}-{row_id}-{int(created_at.timestamp() * 1_000_000)}"


class PaymentProvider(Protocol):
    name: str

    async def open_checkout(self, request: CheckoutRequest) -> OpenedCheckout:
        """Create the page where the buyer pays (raises `ProviderError`)."""

    async def refund(self, request: RefundRequest) -> str:
        """Give money back; returns the provider's refund id (raises `ProviderError`).

        Called again with the same `refund_id` after a failure: the provider must not pay twice.
        """
