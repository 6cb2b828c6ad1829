"""The simulated provider: a checkout page served by the app itself, with Pay and Cancel buttons.

It lets anyone try priced events with no payment account anywhere, and behaves like a real
provider where it matters: a checkout per order behind an unguessable URL, one notification per
press of Pay (a pressed form sent twice is one payment; a second tab paying again is a second
payment, refunded), refunds that succeed. No money moves.
"""

from __future__ import annotations

import secrets

from ticketflow.db.models.payments import Checkout
from ticketflow.domain.payments.providers import (
    CheckoutRequest,
    OpenedCheckout,
    PaymentNotice,
    RefundRequest,
)

SIMULATED = "simulated"
TOKEN_BYTES = 32
ATTEMPT_PATTERN = r"^[A-Za-z0-9_-]{16,64}$"
TOKEN_PATTERN = r"^[A-Za-z0-9_-]{16,64}$"


def new_attempt_id() -> str:
    """Identifies one rendering of the Pay button: pressing it twice pays once."""
    return secrets.token_urlsafe(18)


class SimulatedProvider:
    name = SIMULATED

    def __init__(self, public_base_url: str) -> None:
        self.public_base_url = public_base_url.rstrip("/")

    async def open_checkout(self, request: CheckoutRequest) -> OpenedCheckout:
        token = secrets.token_urlsafe(TOKEN_BYTES)
        return OpenedCheckout(
            external_id=f"sim_cs_{secrets.token_hex(16)}",
            url=f"{self.public_base_url}/payments/simulated/{request.order_id}?token={token}",
            expires_at=request.expires_at,
            access_token=token,
        )

    async def refund(self, request: RefundRequest) -> str:
        return f"sim_re_{request.refund_id}"

    def payment_notice(
        self, checkout: Checkout, amount_cents: int, currency: str, attempt: str
    ) -> PaymentNotice:
        """What pressing Pay reports: the amount shown on the page, computed by the server."""
        return PaymentNotice(
            provider=SIMULATED,
            event_id=f"sim_evt_{attempt}",
            event_type="simulated.payment_succeeded",
            checkout_id=checkout.external_id,
            order_id=checkout.order_id,
            payment_id=f"sim_pi_{attempt}",
            amount_cents=amount_cents,
            currency=currency,
        )
