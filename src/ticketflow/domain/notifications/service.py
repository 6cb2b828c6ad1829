"""Notification use cases: send a ticket e-mail again, and the admins' view of the outbox."""

from __future__ import annotations

from typing import Any

from advanced_alchemy.filters import LimitOffset
from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from advanced_alchemy.service import OffsetPagination
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ticketflow.db.base import utc_now
from ticketflow.db.models.outbox import OutboxMessage, OutboxStatus
from ticketflow.db.models.tickets import Ticket, TicketStatus
from ticketflow.db.models.users import Role, User
from ticketflow.domain.notifications.outbox import OutboxNotifier
from ticketflow.lib.errors import ConflictError, NotFoundError, TicketNotFound, TooManyAttempts
from ticketflow.lib.i18n import N_
from ticketflow.lib.ratelimit import Attempt, AttemptLimiter, LimitStore
from ticketflow.lib.repository import RepositoryService

RESEND_WINDOW_SECONDS = 900
RESEND_PER_TICKET = 3
"""Resends of one ticket's e-mail per window, whoever asks: the holder's inbox is protected."""
RESEND_PER_USER = 10
"""Resends one user may ask for per window, across tickets."""
RETRYABLE = (OutboxStatus.FAILED, OutboxStatus.SKIPPED)
NOT_RETRIED = {
    OutboxStatus.PENDING: N_("only failed or skipped messages can be retried; this one is pending"),
    OutboxStatus.SENDING: N_("only failed or skipped messages can be retried; this one is sending"),
    OutboxStatus.SENT: N_("only failed or skipped messages can be retried; this one is sent"),
}
NOT_SENT_AGAIN = {
    TicketStatus.PENDING: N_("only an active ticket's e-mail can be sent again; this one is pending"),
    TicketStatus.USED: N_("only an active ticket's e-mail can be sent again; this one is used"),
    TicketStatus.CANCELLED: N_("only an active ticket's e-mail can be sent again; this one is cancelled"),
}
"""Refusals by the state met (one whole sentence each, for the translations)."""


class OutboxMessageNotFound(NotFoundError):
    detail = N_("message not found")


class ResendLimits:
    """Sliding-window limits on resends, kept in the application's store."""

    def __init__(self, store: LimitStore) -> None:
        self.per_ticket = AttemptLimiter(store, RESEND_PER_TICKET, RESEND_WINDOW_SECONDS, "resend-ticket")
        self.per_user = AttemptLimiter(store, RESEND_PER_USER, RESEND_WINDOW_SECONDS, "resend-user")

    async def take(self, ticket_id: int, user_id: int) -> tuple[Attempt, Attempt]:
        """Count one resend of the ticket and of the user before it is queued (parallel requests
        cannot all slip past the limits); `TooManyAttempts` when either is used up. Returns the
        attempts taken, for `give_back`."""
        per_ticket = await self.per_ticket.acquire(str(ticket_id))
        try:
            per_user = await self.per_user.acquire(str(user_id))
        except TooManyAttempts:
            await self.per_ticket.release(per_ticket)
            raise
        return per_ticket, per_user

    async def give_back(self, taken: tuple[Attempt, Attempt]) -> None:
        """Undo `take` for a resend that was not queued after all."""
        await self.per_ticket.release(taken[0])
        await self.per_user.release(taken[1])


class OutboxRepository(SQLAlchemyAsyncRepository[OutboxMessage]):
    model_type = OutboxMessage


class NotificationService(RepositoryService[OutboxMessage, OutboxRepository]):
    """Use cases of notifications. Each public method is one transaction."""

    repository_type = OutboxRepository

    def __init__(
        self, session: AsyncSession, outbox: OutboxNotifier, limits: ResendLimits, **options: Any
    ) -> None:
        super().__init__(session, **options)
        self.outbox = outbox
        self.limits = limits

    async def resend_tickets(self, ticket_id: int, actor: User) -> OutboxMessage:
        """Queue the ticket e-mail of `ticket_id`'s order again, to its holder.

        Owner or admin; anyone else gets 404, as if the ticket did not exist.
        """
        ticket = await self.session.get(Ticket, ticket_id)
        if ticket is None or (actor.role != Role.ADMIN and ticket.user_id != actor.id):
            raise TicketNotFound
        if ticket.status != TicketStatus.ACTIVE:
            raise ConflictError(NOT_SENT_AGAIN[TicketStatus(ticket.status)], status=ticket.status)
        taken = await self.limits.take(ticket_id, actor.id)
        try:
            message = await self.outbox.tickets_resent(self.session, ticket)
            await self.session.commit()
        except BaseException:
            await self.limits.give_back(taken)
            raise
        return message

    async def list_messages(
        self, *, status: OutboxStatus | None, limit_offset: LimitOffset
    ) -> OffsetPagination[OutboxMessage]:
        """Newest first, optionally of one status (e.g. `failed`)."""
        conditions = [OutboxMessage.status == status] if status is not None else []
        return await self.page(*conditions, limit_offset=limit_offset, order_by=[OutboxMessage.id.desc()])

    async def retry(self, message_id: int) -> OutboxMessage:
        """Queue a failed (or skipped) message again, with a fresh set of attempts."""
        now = utc_now()
        result = await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.status.in_(RETRYABLE))
            .values(status=OutboxStatus.PENDING, attempts=0, next_attempt_at=now, claimed_by=None)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            status = await self.session.scalar(
                select(OutboxMessage.status).where(OutboxMessage.id == message_id)
            )
            await self.session.rollback()
            if status is None:
                raise OutboxMessageNotFound
            raise ConflictError(
                NOT_RETRIED.get(
                    status, N_("only failed or skipped messages can be retried; this one is %(status)s")
                ),
                values={"status": status},
            )
        await self.session.commit()
        return await self.session.get_one(OutboxMessage, message_id, populate_existing=True)
