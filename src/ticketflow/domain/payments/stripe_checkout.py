"""Stripe Checkout through the official `stripe` package, and its signed webhooks.

A pending order becomes one Checkout Session (line items from the order, `client_reference_id`
and metadata = the order id, success and cancel URLs from settings). Stripe reports the payment
with a webhook (`checkout.session.completed`, or `checkout.session.async_payment_succeeded` for
delayed methods) signed with the endpoint secret: `Stripe-Signature: t=<unix time>,v1=<HMAC-SHA256
of "<t>.<raw body>">`. Anything unsigned, tampered, or signed more than five minutes away from
now is refused before its body is even parsed.

Stripe's account may hold payments that are not ours (Payment Links, another application): a
genuine event about a session this server never opened is acknowledged (200, `ignored`) and
changes nothing, since Stripe retries any other answer for days and then disables the endpoint.

Opening a session is one idempotent request (`Idempotency-Key`). Stripe stores the first answer
to a key, a 500 included, replays it to every retry, and refuses the same key with other
parameters. So the parameters of an order's session are a function of the order (its
`expires_at` too: see `stripe_expiry`), the key names them (a digest: when they do change, say the
buyer's e-mail, the retry is another request, never an `idempotency_error`), and it names the
attempt: a retry walks the attempts in order (`through_attempts`), takes a replayed session as the
order's, and passes over an attempt whose 500 Stripe replays (`Idempotent-Replayed: true`) to the
next one. A network failure leaves the attempt unanswered, so the retry sends it again and gets
the session if it was made.
A refund walks its attempts the same way, and before each new one asks Stripe for the refunds of
the payment: one carrying the refund's id means the 500 hid money that went back all the same.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import msgspec
import stripe

from ticketflow.db.models.payments import CHECKOUT_URL_MAX, EVENT_TYPE_MAX, PROVIDER_ID_MAX
from ticketflow.domain.payments.providers import (
    CheckoutRequest,
    NoticeRejected,
    OpenedCheckout,
    PaymentNotice,
    ProviderError,
    RefundRequest,
)
from ticketflow.lib.errors import DomainError
from ticketflow.lib.i18n import N_
from ticketflow.settings import Settings, SettingsError

T = TypeVar("T")
STRIPE = "stripe"
SIGNATURE_TOLERANCE_SECONDS = 300
STRIPE_MIN_SESSION_LIFETIME = dt.timedelta(minutes=30)
"""Stripe refuses sessions expiring sooner than 30 minutes from creation."""
STRIPE_CLOCK_MARGIN = dt.timedelta(minutes=2)
"""Room for our clock against Stripe's and for the request's way there."""
STRIPE_MAX_SESSION_LIFETIME = dt.timedelta(hours=23, minutes=55)
EXPIRY_STEP = dt.timedelta(minutes=15)
"""An order's session expiry moves by this much, and only once the last one is too close."""
STRIPE_ATTEMPTS = 20
"""Attempts (idempotency keys) one session or refund may take: each after a 500 of Stripe's."""
STRIPE_TIMEOUT_SECONDS = 20.0
MAX_ORDER_ID = 2**62
PAYMENT_EVENT_TYPES = frozenset({"checkout.session.completed", "checkout.session.async_payment_succeeded"})
NOT_OURS = "not a checkout session of this server"
PAID_STATUSES = frozenset({"paid"})
"""`payment_status` of a session whose money arrived (`unpaid` waits for the async event)."""


class WebhookRejected(DomainError):
    """Not a genuine, fresh Stripe notification (answered 400; Stripe retries genuine ones)."""

    detail = N_("invalid Stripe-Signature")


StripeId = Annotated[str, msgspec.Meta(min_length=1, max_length=PROVIDER_ID_MAX)]
MinorUnits = Annotated[int, msgspec.Meta(ge=-(2**62), le=2**62)]


class StripeSession(msgspec.Struct):
    """The fields of a Checkout Session object the application reads."""

    id: StripeId
    object: str
    amount_total: MinorUnits | None = None
    currency: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z]{3}$")] | None = None
    client_reference_id: str | None = None
    metadata: dict[str, str] = msgspec.field(default_factory=dict)
    payment_intent: StripeId | None = None
    payment_status: str | None = None


class CreatedSession(msgspec.Struct):
    id: StripeId
    url: Annotated[str, msgspec.Meta(min_length=1, max_length=CHECKOUT_URL_MAX)]
    expires_at: int


class StripeEventData(msgspec.Struct):
    object: msgspec.Raw


class StripeEvent(msgspec.Struct):
    id: StripeId
    type: Annotated[str, msgspec.Meta(max_length=EVENT_TYPE_MAX)]
    data: StripeEventData
    object: str = "event"


@dataclass(frozen=True, slots=True)
class IgnoredEvent:
    """A genuine notification that changes nothing here (another type, or money still coming)."""

    event_id: str
    event_type: str
    reason: str


def stripe_expiry(hold_expires_at: dt.datetime, ordered_at: dt.datetime, now: dt.datetime) -> int:
    """The session's `expires_at`, the same for every attempt at one order while Stripe accepts it.

    The hold's end, or when the hold is shorter than Stripe's minimum, the order's time plus that
    minimum and a step; once that is closer to now than Stripe accepts, the first step after it
    that is not (never later than Stripe's maximum after the order)."""
    earliest = now + STRIPE_MIN_SESSION_LIFETIME + STRIPE_CLOCK_MARGIN
    first = max(hold_expires_at, ordered_at + STRIPE_MIN_SESSION_LIFETIME + EXPIRY_STEP)
    steps = max(0, math.ceil((earliest - first) / EXPIRY_STEP))
    # Stripe's latest, counted from the order (from now it would move with every retry): a session
    # made later than the order expires no later than Stripe allows
    return int(min(first + steps * EXPIRY_STEP, ordered_at + STRIPE_MAX_SESSION_LIFETIME).timestamp())


def replayed_failure(exc: stripe.StripeError) -> bool:
    """A 5xx that Stripe stored for this idempotency key earlier and replays now."""
    headers = {str(name).lower(): value for name, value in (exc.headers or {}).items()}
    return (exc.http_status or 0) >= 500 and headers.get("idempotent-replayed") == "true"


async def through_attempts(
    send: Callable[[str], Awaitable[T]],
    key_of: Callable[[int], str],
    made_meanwhile: Callable[[], Awaitable[T | None]] | None = None,
) -> T:
    """`send` under the attempts' idempotency keys in order. A 5xx Stripe replays for a key (an
    attempt that failed before) passes to the next key, unless `made_meanwhile` finds what the
    failed attempt was to make; any other answer or error ends the walk."""
    for attempt in range(1, STRIPE_ATTEMPTS + 1):
        try:
            return await send(key_of(attempt))
        except stripe.StripeError as exc:
            if attempt == STRIPE_ATTEMPTS or not replayed_failure(exc):
                raise
        made = None if made_meanwhile is None else await made_meanwhile()
        if made is not None:
            return made
    raise AssertionError  # pragma: no cover - the loop returns or raises


def order_id_of(session: StripeSession) -> int | None:
    """The order a session is for; None when it cannot be a session of ours (this server sets
    `client_reference_id` and `metadata.order_id` to the same order id, always)."""
    named = {session.client_reference_id, session.metadata.get("order_id")}
    if len(named) != 1 or None in named:
        return None
    text = named.pop() or ""
    if not text.isascii() or not text.isdigit() or len(text) > len(str(MAX_ORDER_ID)):
        return None
    return int(text) if 1 <= int(text) <= MAX_ORDER_ID else None


def signed_at(header: str) -> int:
    """The header's one `t=<unix time>`, exactly digits: the `stripe` package reads `t=1=x` as 1."""
    stamps = [part[2:] for part in header.split(",") if part.startswith("t=")]
    if len(stamps) != 1 or not stamps[0].isascii() or not stamps[0].isdigit() or len(stamps[0]) > 12:
        raise WebhookRejected(N_("malformed timestamp in Stripe-Signature"))
    return int(stamps[0])


def verify_signature(payload: bytes, header: str | None, secret: str, now: float) -> None:
    """Stripe's scheme, checked by the `stripe` package; also refuses timestamps in the future."""
    try:
        stripe.WebhookSignature.verify_header(payload, header, secret, SIGNATURE_TOLERANCE_SECONDS)
    except stripe.SignatureVerificationError as exc:
        raise WebhookRejected(str(exc).split(".")[0]) from exc
    except UnicodeDecodeError as exc:
        raise WebhookRejected(N_("the body is not UTF-8")) from exc
    timestamp = signed_at(header or "")
    if timestamp > now + SIGNATURE_TOLERANCE_SECONDS:
        raise WebhookRejected(N_("Timestamp outside the tolerance zone"))


class StripeProvider:
    name = STRIPE

    def __init__(self, settings: Settings) -> None:
        if not settings.stripe_api_key:
            msg = "PAYMENT_PROVIDER=stripe needs STRIPE_API_KEY"
            raise SettingsError(msg)
        if not settings.stripe_webhook_secret:
            msg = "PAYMENT_PROVIDER=stripe needs STRIPE_WEBHOOK_SECRET (from the webhook endpoint)"
            raise SettingsError(msg)
        base = settings.public_base_url.rstrip("/")
        self.api_key = settings.stripe_api_key
        self.webhook_secret = settings.stripe_webhook_secret
        self.api_base = settings.stripe_api_base.rstrip("/")
        self.success_url = settings.stripe_success_url or (
            f"{base}/payments/success?session_id={{CHECKOUT_SESSION_ID}}"
        )
        self.cancel_url = settings.stripe_cancel_url or (
            f"{base}/payments/cancelled?session_id={{CHECKOUT_SESSION_ID}}"
        )

    @asynccontextmanager
    async def _client(self) -> AsyncIterator[stripe.StripeClient]:
        """A Stripe client on a fresh HTTP client (bound to the running event loop), closed after."""
        http_client = stripe.HTTPXClient(timeout=STRIPE_TIMEOUT_SECONDS)
        try:
            yield stripe.StripeClient(
                self.api_key,
                base_addresses={"api": self.api_base} if self.api_base else None,
                http_client=http_client,
                max_network_retries=1,
            )
        except stripe.StripeError as exc:
            raise ProviderError(f"Stripe: {exc.user_message or exc}") from exc
        finally:
            await http_client.close_async()  # type: ignore[no-untyped-call]

    async def open_checkout(self, request: CheckoutRequest) -> OpenedCheckout:
        params: dict[str, Any] = {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": line.quantity,
                    "price_data": {
                        "currency": request.currency.lower(),
                        "unit_amount": line.unit_amount_cents,
                        "product_data": {"name": line.name[:250]},
                    },
                }
                for line in request.lines
            ],
            "client_reference_id": str(request.order_id),
            "metadata": {"order_id": str(request.order_id)},
            "payment_intent_data": {"metadata": {"order_id": str(request.order_id)}},
            "success_url": self.success_url,
            "cancel_url": self.cancel_url,
        }
        expires_at = stripe_expiry(request.expires_at, request.ordered_at, dt.datetime.now(dt.UTC))
        params["expires_at"] = expires_at
        if request.customer_email:
            params["customer_email"] = request.customer_email
        asked = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]
        async with self._client() as client:
            session = await through_attempts(
                lambda key: client.v1.checkout.sessions.create_async(
                    params,  # type: ignore[arg-type]
                    {"idempotency_key": key},
                ),
                lambda attempt: f"{request.idempotency_key}-{asked}-{attempt}",
            )
        try:
            created = msgspec.convert(session.to_dict(), CreatedSession)
        except msgspec.ValidationError as exc:
            raise ProviderError(f"Stripe answered with an unexpected session: {exc}") from exc
        return OpenedCheckout(
            external_id=created.id,
            url=created.url,
            expires_at=dt.datetime.fromtimestamp(created.expires_at, dt.UTC),
        )

    async def refund(self, request: RefundRequest) -> str:
        params = {
            "payment_intent": request.provider_payment_id,
            "amount": request.amount_cents,
            "metadata": {"order_id": str(request.order_id), "refund_id": str(request.refund_id)},
        }
        ours = str(request.refund_id)
        async with self._client() as client:

            async def made_meanwhile() -> stripe.Refund | None:
                """A refund of the payment carrying this refund's id (a 500 hid its success)."""
                found = await client.v1.refunds.list_async(
                    {"payment_intent": request.provider_payment_id, "limit": 100}
                )
                made = [r for r in found.data if (r.to_dict().get("metadata") or {}).get("refund_id") == ours]
                return made[0] if made else None

            refund = await through_attempts(
                lambda key: client.v1.refunds.create_async(
                    params,  # type: ignore[arg-type]
                    {"idempotency_key": key},
                ),
                lambda attempt: (
                    request.idempotency_key if attempt == 1 else f"{request.idempotency_key}-{attempt}"
                ),
                made_meanwhile,
            )
        if refund.status in {"failed", "canceled"}:
            raise ProviderError(f"Stripe refund {refund.id} is {refund.status}")
        return str(refund.id)

    def parse_webhook(self, payload: bytes, signature: str | None) -> PaymentNotice | IgnoredEvent:
        """A verified notification: money for an order, or something to acknowledge and ignore."""
        verify_signature(payload, signature, self.webhook_secret, time.time())
        try:
            event = msgspec.json.decode(payload, type=StripeEvent)
        except msgspec.DecodeError as exc:
            raise WebhookRejected(N_("not a Stripe event: %(reason)s"), values={"reason": exc}) from exc
        if event.object != "event":
            raise WebhookRejected(N_("not a Stripe event"))
        if event.type not in PAYMENT_EVENT_TYPES:
            return IgnoredEvent(event.id, event.type, "not a payment event")
        try:
            session = msgspec.json.decode(event.data.object, type=StripeSession)
        except msgspec.DecodeError as exc:
            raise NoticeRejected(N_("not a Checkout Session: %(reason)s"), values={"reason": exc}) from exc
        if session.object != "checkout.session":
            raise NoticeRejected(N_("not a Checkout Session"))
        order_id = order_id_of(session)
        if order_id is None:  # a Payment Link's, or another application's on the same account
            return IgnoredEvent(event.id, event.type, NOT_OURS)
        if session.payment_status not in PAID_STATUSES:
            return IgnoredEvent(event.id, event.type, f"payment_status is {session.payment_status}")
        if session.amount_total is None or session.currency is None:
            raise NoticeRejected(N_("the session has no amount_total or currency"))
        return PaymentNotice(
            provider=STRIPE,
            event_id=event.id,
            event_type=event.type,
            checkout_id=session.id,
            order_id=order_id,
            payment_id=session.payment_intent or session.id,
            amount_cents=session.amount_total,
            currency=session.currency,
        )
