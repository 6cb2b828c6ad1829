"""HTML of the simulated checkout page and of the landing pages after a checkout.

Plain server-rendered pages: no script at all, styles inline, a Content-Security-Policy that
forbids everything else, and no referrer (the checkout URL carries its secret token).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import MediaType, Response

from ticketflow.db.models.orders import OrderStatus
from ticketflow.db.models.payments import PaymentRefusal, PaymentStatus
from ticketflow.domain.payments.service import CheckoutView
from ticketflow.lib.money import format_money, unit_price_cents

PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}
CONFIRMING_REFRESH_SECONDS = 3

STATUS_MESSAGES: dict[str, tuple[str, str]] = {
    OrderStatus.PAID: ("good", "Paid. Your tickets are active and on their way to your inbox."),
    OrderStatus.EXPIRED: (
        "bad",
        "This reservation expired and its seats went back on sale. You can buy again from the event page.",
    ),
    OrderStatus.CANCELLED: ("bad", "This order was cancelled; its seats went back on sale."),
    OrderStatus.REFUNDED: ("bad", "This order was refunded."),
}
REFUSAL_MESSAGES: dict[str, str] = {
    PaymentRefusal.DUPLICATE: "This order was already paid: the second payment is being refunded in full.",
    PaymentRefusal.LATE: (
        "The payment arrived after your reservation expired and the seats were no longer"
        " available: it is being refunded in full."
    ),
    PaymentRefusal.ORDER_CLOSED: "The order was closed before the payment arrived: it is being refunded.",
    PaymentRefusal.AMOUNT_MISMATCH: "The amount paid did not match the order: it is being refunded.",
}

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def format_time(moment: dt.datetime | None, zone_name: str) -> str:
    if moment is None:
        return ""
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def order_context(view: CheckoutView) -> dict[str, Any]:
    """The figures of `order_summary.html`."""
    order, event = view.order, view.event
    return {
        "view": view,
        "starts_at": format_time(event.starts_at, event.timezone),
        "expires_at": format_time(order.expires_at, event.timezone),
        "unit_price": format_money(unit_price_cents(order.amount_cents, order.quantity), order.currency),
        "total": format_money(order.amount_cents, order.currency),
    }


def html_page(template: str, status_code: int = 200, **context: Any) -> Response[str]:
    return Response(
        _templates.get_template(template).render(**context),
        media_type=MediaType.HTML,
        status_code=status_code,
        headers=PAGE_HEADERS,
    )


def checkout_page(view: CheckoutView, token: str, attempt: str) -> Response[str]:
    tone, message = STATUS_MESSAGES.get(view.order.status, ("", ""))
    return html_page(
        "checkout.html",
        heading="Pay for your tickets",
        token=token,
        attempt=attempt,
        tone=tone,
        message=message,
        **order_context(view),
    )


def after_payment_page(view: CheckoutView | None) -> Response[str]:
    """Where the buyer lands after paying: paid, still being confirmed, or refunded (and why)."""
    if view is None:
        return html_page(
            "result.html", heading="Thank you", tone="", message="Your payment is being processed."
        )
    payment = view.payment
    refresh = None
    if payment is not None and payment.status == PaymentStatus.REFUSED:
        tone, message = "bad", REFUSAL_MESSAGES.get(payment.refusal or "", "The payment is being refunded.")
    elif view.order.status == OrderStatus.PENDING:
        tone, message = "", "Your payment is being confirmed. This page updates by itself."
        refresh = CONFIRMING_REFRESH_SECONDS
    else:
        tone, message = STATUS_MESSAGES[view.order.status]
    heading = "Payment received" if view.order.status == OrderStatus.PAID else "Payment"
    return html_page(
        "result.html",
        heading=heading,
        tone=tone,
        message=message,
        refresh_seconds=refresh,
        **order_context(view),
    )


def after_cancel_page(view: CheckoutView | None) -> Response[str]:
    """Where the buyer lands after leaving the checkout without paying."""
    if view is None:
        return html_page("result.html", heading="Payment cancelled", tone="", message="Nothing was charged.")
    retry_url = None
    if view.order.status == OrderStatus.PENDING:
        tone = ""
        context = order_context(view)
        message = f"Not paid yet. Your seats are held until {context['expires_at']}, then go back on sale."
        retry_url = view.checkout.url
    elif view.order.status == OrderStatus.CANCELLED:
        tone, message = "", "Order cancelled: nothing was charged and your seats went back on sale."
    else:
        tone, message = STATUS_MESSAGES[view.order.status]
    return html_page(
        "result.html",
        heading="Payment cancelled" if view.order.status != OrderStatus.PAID else "Already paid",
        tone=tone,
        message=message,
        retry_url=retry_url,
        **order_context(view),
    )
