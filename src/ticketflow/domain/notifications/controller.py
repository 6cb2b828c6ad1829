"""HTTP endpoints of notifications: resend a ticket e-mail; the admins' view of the outbox."""

from __future__ import annotations

from typing import Annotated, Any

from advanced_alchemy.filters import LimitOffset
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery
from sqlalchemy.ext.asyncio import AsyncSession

from ticketflow.db.models.outbox import OutboxMessage, OutboxStatus
from ticketflow.db.models.users import User
from ticketflow.domain.accounts.auth import admin_only, buyer
from ticketflow.domain.notifications.identity import MailIdentity
from ticketflow.domain.notifications.notifier import Notifier
from ticketflow.domain.notifications.outbox import OutboxNotifier
from ticketflow.domain.notifications.schemas import OutboxEntry, OutboxPage
from ticketflow.domain.notifications.service import (
    RESEND_PER_TICKET,
    RESEND_WINDOW_SECONDS,
    NotificationService,
    ResendLimits,
)
from ticketflow.lib.api_docs import id_parameter
from ticketflow.lib.error_handlers import BAD_INPUT, NO_TOKEN, error_responses
from ticketflow.lib.pagination import page_of, provide_limit_offset
from ticketflow.lib.ratelimit import LIMITS_UNAVAILABLE
from ticketflow.lib.state import AppContext

TicketId = Annotated[int, id_parameter("ticket id")]
MessageId = Annotated[int, id_parameter("outbox message id")]
NOT_ADMIN = (403, "only admins see the outbox")


def to_entry(message: OutboxMessage) -> OutboxEntry:
    return OutboxEntry(
        id=message.id,
        kind=message.kind,
        status=message.status,
        recipient=message.recipient,
        attempts=message.attempts,
        next_attempt_at=message.next_attempt_at,
        last_error=message.last_error,
        sent_at=message.sent_at,
        created_at=message.created_at,
        event_id=message.event_id,
        order_id=message.order_id,
        ticket_id=message.ticket_id,
    )


def provide_notification_service(
    db_session: NamedDependency[AsyncSession],
    context: NamedDependency[AppContext],
    notifier: NamedDependency[Notifier],
) -> NotificationService:
    if not isinstance(notifier, OutboxNotifier):
        notifier = OutboxNotifier(MailIdentity.from_settings(context.settings))
    return NotificationService(db_session, notifier, ResendLimits(context.store))


class NotificationController(Controller):
    tags = ["Notifications"]
    dependencies = {
        "notifications": Provide(provide_notification_service, sync_to_thread=False),
        "limit_offset": Provide(provide_limit_offset, sync_to_thread=False),
    }

    @post(
        "/tickets/{ticket_id:int}/resend",
        guards=[buyer],
        status_code=202,
        operation_id="resendTicketEmail",
        responses=error_responses(
            BAD_INPUT,
            NO_TOKEN,
            (403, "door staff do not resend tickets"),
            (404, "no such ticket, or another user's"),
            (409, "the ticket is not active"),
            (429, "sent too often; see the Retry-After header"),
            LIMITS_UNAVAILABLE,
        ),
        summary="Send a ticket e-mail again",
        description=(
            "Queues the ticket e-mail of the ticket's order (every active ticket, QR codes and"
            " calendar file) again, to the ticket holder. Owner or admin; 404 for anyone else's"
            f" ticket; 409 unless the ticket is active; 429 after {RESEND_PER_TICKET} requests for"
            f" one ticket within {RESEND_WINDOW_SECONDS // 60} minutes."
        ),
    )
    async def resend(
        self,
        request: Request[User, Any, Any],
        notifications: NamedDependency[NotificationService],
        ticket_id: TicketId,
    ) -> OutboxEntry:
        return to_entry(await notifications.resend_tickets(ticket_id, request.user))

    @get(
        "/outbox",
        guards=[admin_only],
        operation_id="listOutbox",
        responses=error_responses(BAD_INPUT, NO_TOKEN, NOT_ADMIN),
        summary="Queued, sent and failed e-mails (admin)",
        description="Newest first. `status=failed` lists the messages that gave up after every attempt.",
    )
    async def list_outbox(
        self,
        notifications: NamedDependency[NotificationService],
        limit_offset: NamedDependency[LimitOffset],
        status: FromQuery[OutboxStatus | None] = None,
    ) -> OutboxPage:
        return page_of(await notifications.list_messages(status=status, limit_offset=limit_offset), to_entry)

    @post(
        "/outbox/{message_id:int}/retry",
        guards=[admin_only],
        status_code=200,
        operation_id="retryOutboxMessage",
        responses=error_responses(
            BAD_INPUT,
            NO_TOKEN,
            NOT_ADMIN,
            (404, "no such message"),
            (409, "the message is not failed or skipped"),
        ),
        summary="Retry a failed e-mail (admin)",
        description="Puts a `failed` or `skipped` message back in the queue with a fresh set of attempts.",
    )
    async def retry(
        self, notifications: NamedDependency[NotificationService], message_id: MessageId
    ) -> OutboxEntry:
        return to_entry(await notifications.retry(message_id))
