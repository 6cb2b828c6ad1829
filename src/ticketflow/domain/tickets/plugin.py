"""How the tickets context plugs into the app: its routes and the `tickets` service it offers
(the events context cancels an event's tickets with it)."""

from __future__ import annotations

from litestar.config.app import AppConfig
from litestar.di import Provide

from ticketflow.domain.tickets.controller import TicketController, provide_ticket_service
from ticketflow.domain.tickets.orders_controller import OrderController
from ticketflow.lib.plugins import ContextPlugin


class TicketsPlugin(ContextPlugin):
    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.route_handlers.extend([TicketController, OrderController])
        app_config.dependencies["tickets"] = Provide(provide_ticket_service, sync_to_thread=False)
        return app_config
