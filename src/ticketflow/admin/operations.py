"""Back office views of the e-mail outbox and of the money (payments, refunds, checkouts).

All read-only: money moves only through the payments context. The one write is the outbox's
"Retry", which calls `NotificationService.retry`, the same code as `POST /outbox/{id}/retry`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from markupsafe import Markup
from sqladmin import action
from sqladmin.flash import Flash
from sqlalchemy import ColumnElement
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ticketflow.admin.forms import http_refusal
from ticketflow.admin.views import (
    PeriodFilter,
    RecordView,
    SearchByRelatedView,
    choice_filter,
    contains,
    event_filter,
    events_matching,
    id_equals,
    money_formatter,
    same_origin,
    selected_ids,
)
from ticketflow.admin.words import state_word
from ticketflow.db.models.outbox import MessageKind, OutboxMessage, OutboxStatus
from ticketflow.db.models.payments import (
    Checkout,
    PaymentRefusal,
    PaymentStatus,
    ProviderEvent,
    RefundReason,
    RefundStatus,
)
from ticketflow.db.models.payments import Payment as PaymentRecord
from ticketflow.db.models.payments import Refund as RefundRecord
from ticketflow.domain.notifications.controller import provide_notification_service
from ticketflow.lib.errors import DomainError, refusal_text
from ticketflow.lib.i18n import N_, current_language, gettext_for, lazy_gettext

STATUS_BADGES = {
    "failed": "bg-red-lt",
    "sent": "bg-green-lt",
    "pending": "bg-blue-lt",
    "succeeded": "bg-green-lt",
    "accepted": "bg-green-lt",
    "refused": "bg-red-lt",
}


def status_badge(obj: Any, prop: str) -> Markup:
    """A state shown as a coloured badge, so a failure stands out in a long list."""
    value = str(getattr(obj, prop))
    return Markup('<span class="badge {}">{}</span>').format(
        STATUS_BADGES.get(value, "bg-secondary-lt"), state_word(value)
    )


class OutboxView(SearchByRelatedView, model=OutboxMessage):
    name = lazy_gettext("E-mail")
    name_plural = lazy_gettext("E-mail outbox")
    icon = "fa-solid fa-envelope"
    column_list = [
        OutboxMessage.id,
        OutboxMessage.status,
        OutboxMessage.kind,
        OutboxMessage.recipient,
        OutboxMessage.attempts,
        OutboxMessage.last_error,
        OutboxMessage.next_attempt_at,
        OutboxMessage.sent_at,
        OutboxMessage.created_at,
    ]
    column_details_exclude_list = [OutboxMessage.claimed_by]
    column_searchable_list = [OutboxMessage.recipient]
    search_hint = lazy_gettext("recipient, event title, message id")
    column_sortable_list = [
        OutboxMessage.id,
        OutboxMessage.status,
        OutboxMessage.attempts,
        OutboxMessage.created_at,
    ]
    column_filters = [
        choice_filter(OutboxMessage.status, OutboxStatus, lazy_gettext("Status")),
        choice_filter(OutboxMessage.kind, MessageKind, lazy_gettext("Kind")),
        event_filter(OutboxMessage.event_id),
        PeriodFilter(OutboxMessage.created_at, lazy_gettext("Queued")),
    ]
    links = {"event_id": "event", "user_id": "user", "order_id": "order", "ticket_id": "ticket"}
    column_labels = {OutboxMessage.user_id: lazy_gettext("Recipient account")}
    column_formatters = {OutboxMessage.status: status_badge}

    def search_conditions(self, term: str) -> list[ColumnElement[bool]]:
        return [
            contains(OutboxMessage.recipient, term),
            OutboxMessage.event_id.in_(events_matching(term)),
            *id_equals(OutboxMessage.id, term),
        ]

    @action(
        name="retry",
        label=lazy_gettext("Retry"),
        confirmation_message=lazy_gettext("Queue the selected failed messages again?"),
        add_in_detail=True,
        add_in_list=True,
    )
    async def retry(self, request: Request) -> Response:
        """Through `NotificationService.retry` (only failed or skipped messages go back in the queue)."""
        if not same_origin(request):
            raise http_refusal(403, N_("use the button of a back office page"))
        queued, refused = 0, []
        async with self.context.session_maker() as session:
            notifications = provide_notification_service(session, self.context, self.notifications.notifier)
            for message_id in selected_ids(request):
                try:
                    await notifications.retry(message_id)  # commits or rolls back each one
                    queued += 1
                except DomainError as exc:
                    refused.append(f"#{message_id}: {refusal_text(exc, current_language())}")
        _ = gettext_for(current_language())
        if queued:
            Flash.success(request, _("%(count)s message(s) queued again.") % {"count": queued})
        if refused:
            Flash.error(request, _("Not retried: %(messages)s") % {"messages": "; ".join(refused)})
        return RedirectResponse(request.url_for("admin:list", identity=self.identity), status_code=302)


class PaymentView(SearchByRelatedView, model=PaymentRecord):
    name = lazy_gettext("Payment")
    name_plural = lazy_gettext("Payments")
    icon = "fa-solid fa-credit-card"
    category = lazy_gettext("Money")
    category_icon = "fa-solid fa-coins"
    column_list = [
        PaymentRecord.id,
        PaymentRecord.order_id,
        PaymentRecord.provider,
        PaymentRecord.status,
        PaymentRecord.refusal,
        PaymentRecord.amount_cents,
        PaymentRecord.refunded_cents,
        PaymentRecord.received_at,
    ]
    column_searchable_list = [PaymentRecord.provider_payment_id]
    search_hint = lazy_gettext("provider payment id, order id")
    column_sortable_list = [PaymentRecord.id, PaymentRecord.amount_cents, PaymentRecord.received_at]
    column_filters = [
        choice_filter(PaymentRecord.status, PaymentStatus, lazy_gettext("Status")),
        choice_filter(PaymentRecord.refusal, PaymentRefusal, lazy_gettext("Refusal")),
        PeriodFilter(PaymentRecord.received_at, lazy_gettext("Received")),
    ]
    links = {"order_id": "order"}
    column_labels = {
        PaymentRecord.provider_payment_id: lazy_gettext("Provider payment id"),
        PaymentRecord.received_at: lazy_gettext("Received"),
    }
    column_formatters = {
        PaymentRecord.amount_cents: money_formatter,
        PaymentRecord.refunded_cents: money_formatter,
        PaymentRecord.status: status_badge,
    }

    def search_conditions(self, term: str) -> list[ColumnElement[bool]]:
        return [PaymentRecord.provider_payment_id == term.strip(), *id_equals(PaymentRecord.order_id, term)]


class RefundView(SearchByRelatedView, model=RefundRecord):
    name = lazy_gettext("Refund")
    name_plural = lazy_gettext("Refunds")
    icon = "fa-solid fa-rotate-left"
    category = lazy_gettext("Money")
    column_list = [
        RefundRecord.id,
        RefundRecord.status,
        RefundRecord.reason,
        RefundRecord.order_id,
        RefundRecord.ticket_id,
        RefundRecord.amount_cents,
        RefundRecord.attempts,
        RefundRecord.last_error,
        RefundRecord.refunded_at,
        RefundRecord.created_at,
    ]
    column_searchable_list = [RefundRecord.order_id]
    search_hint = lazy_gettext("order id, provider refund id")
    column_sortable_list = [RefundRecord.id, RefundRecord.status, RefundRecord.created_at]
    column_filters = [
        choice_filter(RefundRecord.status, RefundStatus, lazy_gettext("Status")),
        choice_filter(RefundRecord.reason, RefundReason, lazy_gettext("Reason")),
        PeriodFilter(RefundRecord.created_at, lazy_gettext("Recorded")),
    ]
    links = {"order_id": "order", "ticket_id": "ticket", "payment_id": "payment"}
    column_labels = {
        RefundRecord.payment_id: lazy_gettext("Payment"),
        RefundRecord.refunded_at: lazy_gettext("Refunded"),
        RefundRecord.provider_refund_id: lazy_gettext("Provider refund id"),
    }
    column_formatters = {RefundRecord.amount_cents: money_formatter, RefundRecord.status: status_badge}

    def search_conditions(self, term: str) -> list[ColumnElement[bool]]:
        return [RefundRecord.provider_refund_id == term.strip(), *id_equals(RefundRecord.order_id, term)]


class CheckoutView(RecordView, model=Checkout):
    """Checkouts opened with the provider. The URL and its access token are secrets: not shown."""

    name = lazy_gettext("Checkout")
    name_plural = lazy_gettext("Checkouts")
    icon = "fa-solid fa-cart-shopping"
    category = lazy_gettext("Money")
    column_list = [
        Checkout.id,
        Checkout.order_id,
        Checkout.provider,
        Checkout.external_id,
        Checkout.expires_at,
    ]
    column_details_list = [*column_list, Checkout.created_at]
    column_sortable_list = [Checkout.id, Checkout.expires_at]
    links = {"order_id": "order"}
    column_labels = {
        Checkout.external_id: lazy_gettext("Provider checkout id"),
        Checkout.expires_at: lazy_gettext("Expires"),
    }


class ProviderEventView(RecordView, model=ProviderEvent):
    """Every provider notification acted upon: where to look when a payment went astray."""

    name = lazy_gettext("Provider event")
    name_plural = lazy_gettext("Provider events")
    icon = "fa-solid fa-bell"
    category = lazy_gettext("Money")
    column_list = [
        ProviderEvent.id,
        ProviderEvent.provider,
        ProviderEvent.event_type,
        ProviderEvent.order_id,
        ProviderEvent.outcome,
        ProviderEvent.received_at,
    ]
    column_searchable_list = [ProviderEvent.event_id, ProviderEvent.event_type]
    column_sortable_list = [ProviderEvent.id, ProviderEvent.received_at]
    links = {"order_id": "order"}
    column_labels: ClassVar[dict[Any, str]] = {
        ProviderEvent.event_id: lazy_gettext("Provider event id"),
        ProviderEvent.event_type: lazy_gettext("Type"),
        ProviderEvent.received_at: lazy_gettext("Received"),
    }


OPERATION_VIEWS: tuple[type[RecordView], ...] = (
    OutboxView,
    PaymentView,
    RefundView,
    CheckoutView,
    ProviderEventView,
)
