"""How the notifications context plugs into the app: the outbox notifier it offers the other
contexts (the `notifier` dependency), its routes and the outbox delivery job."""

from __future__ import annotations

from litestar.config.app import AppConfig
from litestar.di import Provide

from ticketflow.domain.notifications.controller import NotificationController
from ticketflow.domain.notifications.delivery import OutboxDelivery
from ticketflow.domain.notifications.identity import MailIdentity
from ticketflow.domain.notifications.notifier import Notifier
from ticketflow.domain.notifications.outbox import OutboxNotifier, remember_previous_values
from ticketflow.domain.notifications.transports import build_transport
from ticketflow.lib.plugins import BackgroundJob, ContextPlugin
from ticketflow.lib.state import AppContext


class NotificationsPlugin(ContextPlugin):
    """Every hook queues e-mail in the caller's transaction. Refuses an unusable `MAIL_FROM`."""

    def __init__(self, context: AppContext) -> None:
        self.context = context
        self.notifier: Notifier = OutboxNotifier(MailIdentity.from_settings(context.settings))
        """The notifier in use; the `notifier` dependency hands out the one set when asked."""
        remember_previous_values()

    def current_notifier(self) -> Notifier:
        return self.notifier

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.route_handlers.append(NotificationController)
        app_config.dependencies["notifier"] = Provide(self.current_notifier, sync_to_thread=False)
        return app_config

    def background_jobs(self) -> list[tuple[str, BackgroundJob]]:
        return [("e-mail outbox", deliver_outbox)]


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
