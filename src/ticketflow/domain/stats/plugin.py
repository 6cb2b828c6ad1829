"""How the stats context plugs into the app: the admins' figures and the business figures of
`GET /metrics` (counted at scrape time)."""

from __future__ import annotations

from litestar.config.app import AppConfig

from ticketflow.domain.stats.controller import StatsController
from ticketflow.domain.stats.figures import BusinessFigures
from ticketflow.lib.metrics import Metrics
from ticketflow.lib.plugins import ContextPlugin
from ticketflow.lib.state import AppContext


class StatsPlugin(ContextPlugin):
    def __init__(self, context: AppContext, metrics: Metrics) -> None:
        self.figures = BusinessFigures(context.session_maker)
        self.metrics = metrics

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.route_handlers.append(StatsController)
        self.metrics.add_collector(self.figures)
        return app_config
