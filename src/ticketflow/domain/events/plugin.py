"""How the events context plugs into the app: its routes."""

from __future__ import annotations

from litestar.config.app import AppConfig

from ticketflow.domain.events.controller import EventController
from ticketflow.lib.plugins import ContextPlugin


class EventsPlugin(ContextPlugin):
    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.route_handlers.append(EventController)
        return app_config
