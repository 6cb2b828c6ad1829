"""HTML of the simulated checkout page and of the landing pages after a checkout.

Plain server-rendered pages: no script at all, styles inline, a Content-Security-Policy that
forbids everything else, and no referrer (the checkout URL carries its secret token).
"""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import MediaType, Response

from ticketflow.db.models.orders import OrderStatus
from ticketflow.db.models.payments import PaymentRefusal, PaymentStatus
from ticketflow.domain.payments.service import CheckoutView
from ticketflow.lib.i18n import (
    N_,
    format_date,
    format_time,
    gettext_for,
    install_i18n,
    locale_variable,
    zone_of,
)
from ticketflow.lib.money import format_money

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
    OrderStatus.PAID: ("good", N_("Paid. Your tickets are active and on their way to your inbox.")),
    OrderStatus.EXPIRED: (
        "bad",
        N_(
            "This reservation expired and its seats went back on sale. You can buy again from the event page."
        ),
    ),
    OrderStatus.CANCELLED: ("bad", N_("This order was cancelled; its seats went back on sale.")),
    OrderStatus.REFUNDED: ("bad", N_("This order was refunded.")),
}
REFUSAL_MESSAGES: dict[str, str] = {
    PaymentRefusal.DUPLICATE: N_(
        "This order was already paid: the second payment is being refunded in full."
    ),
    PaymentRefusal.LATE: N_(
        "The payment arrived after your reservation expired and the seats were no longer"
        " available: it is being refunded in full."
    ),
    PaymentRefusal.ORDER_CLOSED: N_("The order was closed before the payment arrived: it is being refunded."),
    PaymentRefusal.AMOUNT_MISMATCH: N_("The amount paid did not match the order: it is being refunded."),
}
ORDER_STATUSES: dict[str, str] = {
    OrderStatus.PENDING: N_("awaiting payment"),
    OrderStatus.PAID: N_("paid"),
    OrderStatus.EXPIRED: N_("expired"),
    OrderStatus.CANCELLED: N_("cancelled"),
    OrderStatus.REFUNDED: N_("refunded"),
}


@functools.cache
def templates() -> Environment:
    """The page templates; each render speaks the `locale` it is given."""
    environment = Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    install_i18n(environment, locale_variable)
    return environment


def moment_text(moment: dt.datetime | None, zone_name: str, locale: str) -> str:
    """`Saturday 14 March 2026, 20:00 CET` in the event's time zone, in the reader's language."""
    if moment is None:
        return ""
    local = moment.astimezone(zone_of(zone_name))
    return f"{format_date(local, zone_name, locale)}, {format_time(local, zone_name, locale)} {local:%Z}"


def order_context(view: CheckoutView, locale: str) -> dict[str, Any]:
    """The figures of `order_summary.html`."""
    order, event = view.order, view.event
    lines = [(line.quantity, line.name, line.amount_cents) for line in view.lines]
    if not lines:  # an order from before ticket types: one line at the order's price
        lines = [(order.quantity, "", order.amount_cents)]
    return {
        "view": view,
        "starts_at": moment_text(event.starts_at, event.timezone, locale),
        "expires_at": moment_text(order.expires_at, event.timezone, locale),
        "lines": [
            (quantity, name, format_money(amount, order.currency, locale)) for quantity, name, amount in lines
        ],
        "total": format_money(order.amount_cents, order.currency, locale),
        "order_status": gettext_for(locale)(ORDER_STATUSES.get(order.status, order.status)),
    }


def html_page(template: str, locale: str, status_code: int = 200, **context: Any) -> Response[str]:
    return Response(
        templates().get_template(template).render(locale=locale, **context),
        media_type=MediaType.HTML,
        status_code=status_code,
        headers={**PAGE_HEADERS, "Content-Language": locale, "Vary": "Accept-Language"},
    )


def checkout_page(view: CheckoutView, token: str, attempt: str, locale: str) -> Response[str]:
    _ = gettext_for(locale)
    tone, message = STATUS_MESSAGES.get(view.order.status, ("", ""))
    return html_page(
        "checkout.html",
        locale,
        heading=_("Pay for your tickets"),
        token=token,
        attempt=attempt,
        tone=tone,
        message=_(message) if message else "",
        **order_context(view, locale),
    )


def after_payment_page(view: CheckoutView | None, locale: str) -> Response[str]:
    """Where the buyer lands after paying: paid, still being confirmed, or refunded (and why)."""
    _ = gettext_for(locale)
    if view is None:
        return html_page(
            "result.html",
            locale,
            heading=_("Thank you"),
            tone="",
            message=_("Your payment is being processed."),
        )
    payment = view.payment
    refresh = None
    if payment is not None and payment.status == PaymentStatus.REFUSED:
        refusal = REFUSAL_MESSAGES.get(payment.refusal or "")
        tone, message = "bad", _(refusal) if refusal else _("The payment is being refunded.")
    elif view.order.status == OrderStatus.PENDING:
        tone, message = "", _("Your payment is being confirmed. This page updates by itself.")
        refresh = CONFIRMING_REFRESH_SECONDS
    else:
        tone, message = STATUS_MESSAGES[view.order.status]
        message = _(message)
    heading = _("Payment received") if view.order.status == OrderStatus.PAID else _("Payment")
    return html_page(
        "result.html",
        locale,
        heading=heading,
        tone=tone,
        message=message,
        refresh_seconds=refresh,
        **order_context(view, locale),
    )


def after_cancel_page(view: CheckoutView | None, locale: str) -> Response[str]:
    """Where the buyer lands after leaving the checkout without paying."""
    _ = gettext_for(locale)
    if view is None:
        return html_page(
            "result.html", locale, heading=_("Payment cancelled"), tone="", message=_("Nothing was charged.")
        )
    retry_url = None
    context = order_context(view, locale)
    if view.order.status == OrderStatus.PENDING:
        tone = ""
        message = _("Not paid yet. Your seats are held until %(time)s, then go back on sale.") % {
            "time": context["expires_at"]
        }
        retry_url = view.checkout.url
    elif view.order.status == OrderStatus.CANCELLED:
        tone, message = "", _("Order cancelled: nothing was charged and your seats went back on sale.")
    else:
        tone, message = STATUS_MESSAGES[view.order.status]
        message = _(message)
    return html_page(
        "result.html",
        locale,
        heading=_("Payment cancelled") if view.order.status != OrderStatus.PAID else _("Already paid"),
        tone=tone,
        message=message,
        retry_url=retry_url,
        **context,
    )
