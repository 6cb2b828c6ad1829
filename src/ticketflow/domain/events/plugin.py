"""How the events context plugs into the app: its routes (events, ticket types, vouchers)."""

from __future__ import annotations

from litestar.config.app import AppConfig

from ticketflow.domain.events.controller import EventController
from ticketflow.domain.events.ticket_types_controller import TicketTypeController
from ticketflow.domain.events.vouchers_controller import VoucherController
from ticketflow.lib.plugins import ContextPlugin


class EventsPlugin(ContextPlugin):
    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.route_handlers.extend([EventController, TicketTypeController, VoucherController])
        return app_config
