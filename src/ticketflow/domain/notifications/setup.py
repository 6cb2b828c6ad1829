"""How the notifications context plugs into the app: the outbox notifier, its worker job and
its routes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ticketflow.domain.notifications.delivery import OutboxDelivery
from ticketflow.domain.notifications.identity import MailIdentity
from ticketflow.domain.notifications.notifier import Notifier
from ticketflow.domain.notifications.outbox import OutboxNotifier
from ticketflow.domain.notifications.transports import build_transport

if TYPE_CHECKING:
    from ticketflow.extensions import Extensions
    from ticketflow.lib.state import AppContext


def build_notifier(context: AppContext) -> Notifier:
    """Every hook queues e-mail in the caller's transaction. Refuses an unusable `MAIL_FROM`."""
    return OutboxNotifier(MailIdentity.from_settings(context.settings))


async def deliver_outbox(context: AppContext) -> int:
    """The background job: one delivery pass; returns how many messages it claimed."""
    delivery = OutboxDelivery(
        context.session_maker,
        context.settings,
        build_transport(context.settings),
        MailIdentity.from_settings(context.settings),
    )
    report = await delivery.run_once()
    return report.claimed


def notification_extensions(context: AppContext) -> Extensions:
    from ticketflow.domain.notifications.controller import NotificationController  # noqa: PLC0415
    from ticketflow.extensions import Extensions  # noqa: PLC0415

    return Extensions(
        route_handlers=[NotificationController],
        background_jobs=[("e-mail outbox", deliver_outbox)],
    )
