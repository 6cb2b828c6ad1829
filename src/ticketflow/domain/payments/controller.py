"""HTTP endpoints of payments: the simulated checkout page, the Stripe webhook, landing pages.

None of them takes a bearer token: the browser coming back from a checkout has none, and Stripe
signs its calls instead. The simulated page is reached only through its unguessable URL.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.enums import RequestEncodingType
from litestar.exceptions import ClientException
from litestar.params import Body, Parameter
from litestar.response import Redirect

from ticketflow.db.models.users import Language
from ticketflow.domain.payments.pages import after_cancel_page, after_payment_page, checkout_page
from ticketflow.domain.payments.providers import PROVIDER_ID_PATTERN, UnknownCheckout
from ticketflow.domain.payments.service import CheckoutView, PaymentService
from ticketflow.domain.payments.simulated import (
    ATTEMPT_PATTERN,
    SIMULATED,
    TOKEN_PATTERN,
    SimulatedProvider,
    new_attempt_id,
)
from ticketflow.domain.payments.stripe_checkout import (
    NOT_OURS,
    STRIPE,
    IgnoredEvent,
    StripeProvider,
    WebhookRejected,
)
from ticketflow.lib.access import PUBLIC_ROUTE
from ticketflow.lib.api_docs import PUBLIC, id_parameter
from ticketflow.lib.error_handlers import BAD_INPUT, TOO_LARGE, error_responses
from ticketflow.lib.i18n import request_locale

logger = logging.getLogger("ticketflow.payments")

OrderId = Annotated[int, id_parameter("order id")]
Token = Annotated[
    str, Parameter(min_length=16, max_length=64, pattern=TOKEN_PATTERN, description="checkout secret")
]
OptionalOrderId = Annotated[int | None, id_parameter("order id (simulated)")]
OptionalToken = Annotated[
    str | None, Parameter(min_length=16, max_length=64, pattern=TOKEN_PATTERN, description="checkout secret")
]
SessionId = Annotated[
    str | None,
    Parameter(
        min_length=1, max_length=255, pattern=PROVIDER_ID_PATTERN, description="Stripe Checkout Session id"
    ),
]


UNKNOWN_CHECKOUT = (404, "no checkout of this order with this token")
NOT_PAYABLE = (409, "the order is no longer waiting for payment")
REFUSED = (422, "the payment notice does not match the order")
FORM_ERRORS = ((400, "the form (application/x-www-form-urlencoded) lacks a field or is malformed"), TOO_LARGE)


class PayForm(msgspec.Struct, forbid_unknown_fields=True):
    token: Annotated[str, msgspec.Meta(min_length=16, max_length=64, pattern=TOKEN_PATTERN)]
    attempt: Annotated[str, msgspec.Meta(min_length=16, max_length=64, pattern=ATTEMPT_PATTERN)]


class CancelForm(msgspec.Struct, forbid_unknown_fields=True):
    token: Annotated[str, msgspec.Meta(min_length=16, max_length=64, pattern=TOKEN_PATTERN)]


class WebhookReceipt(msgspec.Struct, omit_defaults=True):
    received: bool
    outcome: str
    order_id: int | None = None
    refusal: str | None = None
    detail: str | None = None


def ignored(event: IgnoredEvent) -> WebhookReceipt:
    """The answer to a genuine event that changes nothing here: 200, or Stripe retries it for days
    and then disables the endpoint, our own payments' notifications with it."""
    logger.info("Stripe event %s (%s) ignored: %s", event.event_id, event.event_type, event.reason)
    return WebhookReceipt(received=True, outcome="ignored", detail=event.reason)


def landing_query(order_id: int, token: str) -> str:
    return f"order_id={order_id}&token={token}"


class SimulatedCheckoutController(Controller):
    path = "/payments/simulated"
    tags = ["Payments"]
    opt = PUBLIC_ROUTE
    security = PUBLIC
    dependencies = {"page_locale": Provide(request_locale, sync_to_thread=False)}

    @get(
        "/{order_id:int}",
        operation_id="getSimulatedCheckout",
        responses=error_responses(BAD_INPUT, UNKNOWN_CHECKOUT),
        summary="Simulated checkout page",
        description="HTML page with Pay and Cancel buttons: the `checkout_url` of a purchase.",
        media_type="text/html",
    )
    async def page(
        self,
        payment_service: NamedDependency[PaymentService],
        page_locale: NamedDependency[Language],
        order_id: OrderId,
        token: Token,
    ) -> Response[str]:
        view = await payment_service.find_checkout_by_token(SIMULATED, order_id, token)
        return checkout_page(view, token, new_attempt_id(), page_locale)

    @post(
        "/{order_id:int}/pay",
        operation_id="paySimulatedCheckout",
        responses=error_responses(*FORM_ERRORS, UNKNOWN_CHECKOUT, NOT_PAYABLE, REFUSED),
        summary="Pay on the simulated checkout page",
        description="Pays the order with the amount the server computed; answers with a redirect.",
        status_code=303,
    )
    async def pay(
        self,
        payment_service: NamedDependency[PaymentService],
        simulated_provider: NamedDependency[SimulatedProvider],
        order_id: OrderId,
        data: Annotated[PayForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Redirect:
        view = await payment_service.find_checkout_by_token(SIMULATED, order_id, data.token)
        notice = simulated_provider.payment_notice(
            view.checkout, view.order.amount_cents, view.order.currency, data.attempt
        )
        await payment_service.handle_notice(notice)
        return Redirect(f"/payments/success?{landing_query(order_id, data.token)}", status_code=303)

    @post(
        "/{order_id:int}/cancel",
        operation_id="cancelSimulatedCheckout",
        responses=error_responses(*FORM_ERRORS, UNKNOWN_CHECKOUT, NOT_PAYABLE),
        summary="Leave the simulated checkout without paying",
        description="Cancels the unpaid order and puts its seats back on sale; answers with a redirect.",
        status_code=303,
    )
    async def cancel(
        self,
        payment_service: NamedDependency[PaymentService],
        order_id: OrderId,
        data: Annotated[CancelForm, Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Redirect:
        view = await payment_service.find_checkout_by_token(SIMULATED, order_id, data.token)
        await payment_service.abandon_checkout(view)
        return Redirect(f"/payments/cancelled?{landing_query(order_id, data.token)}", status_code=303)


async def provide_landing_view(
    payment_service: NamedDependency[PaymentService],
    order_id: OptionalOrderId = None,
    token: OptionalToken = None,
    session_id: SessionId = None,
) -> CheckoutView | None:
    """The checkout a landing page is about: `?order_id=&token=` (simulated) or `?session_id=` (Stripe)."""
    if order_id is not None and token is not None:
        return await payment_service.find_checkout_by_token(SIMULATED, order_id, token)
    if session_id is not None:
        return await payment_service.find_checkout(provider=STRIPE, external_id=session_id)
    return None


class LandingController(Controller):
    """Where a checkout sends the buyer back."""

    path = "/payments"
    tags = ["Payments"]
    opt = PUBLIC_ROUTE
    security = PUBLIC
    dependencies = {
        "landing_view": Provide(provide_landing_view),
        "page_locale": Provide(request_locale, sync_to_thread=False),
    }

    @get(
        "/success",
        operation_id="getPaymentSuccessPage",
        summary="After paying",
        media_type="text/html",
        responses=error_responses(BAD_INPUT, UNKNOWN_CHECKOUT),
    )
    async def success(
        self, landing_view: NamedDependency[CheckoutView | None], page_locale: NamedDependency[Language]
    ) -> Response[str]:
        return after_payment_page(landing_view, page_locale)

    @get(
        "/cancelled",
        operation_id="getPaymentCancelledPage",
        summary="After leaving a checkout without paying",
        media_type="text/html",
        responses=error_responses(BAD_INPUT, UNKNOWN_CHECKOUT),
    )
    async def cancelled(
        self, landing_view: NamedDependency[CheckoutView | None], page_locale: NamedDependency[Language]
    ) -> Response[str]:
        return after_cancel_page(landing_view, page_locale)


class StripeWebhookController(Controller):
    path = "/payments/stripe"
    tags = ["Payments"]
    opt = PUBLIC_ROUTE
    security = PUBLIC

    @post(
        "/webhook",
        operation_id="receiveStripeWebhook",
        responses=error_responses((400, "unsigned, tampered or stale call"), TOO_LARGE, REFUSED),
        summary="Stripe webhook",
        description=(
            "Receives Stripe events signed with the endpoint secret (`Stripe-Signature`). 400 for an"
            " unsigned, tampered or stale call; a replayed event changes nothing. A genuine event"
            " of another type, or about a Checkout Session this server did not open (a Payment Link,"
            " another application on the account), answers 200 with `outcome: ignored`."
        ),
        status_code=200,
    )
    async def webhook(
        self,
        request: Request[Any, Any, Any],
        payment_service: NamedDependency[PaymentService],
        stripe_provider: NamedDependency[StripeProvider],
    ) -> WebhookReceipt:
        payload = await request.body()
        try:
            parsed = stripe_provider.parse_webhook(payload, request.headers.get("stripe-signature"))
        except WebhookRejected as exc:
            raise ClientException(detail=exc.detail) from exc
        if isinstance(parsed, IgnoredEvent):
            return ignored(parsed)
        try:
            settlement = await payment_service.handle_notice(parsed)
        except UnknownCheckout:  # a session made elsewhere naming an id like ours: not ours either
            return ignored(IgnoredEvent(parsed.event_id, parsed.event_type, NOT_OURS))
        return WebhookReceipt(
            received=True,
            outcome=settlement.outcome,
            order_id=settlement.order_id,
            refusal=settlement.refusal,
        )
