"""The list of plugins: every context's plugin, built on one shared context.

`create_app` installs these plugins; the worker (`ticketflow worker`, or the API process with
`WORKER_IN_PROCESS`) runs the background jobs of the same plugins. A new context adds its plugin
here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from ticketflow.admin.mount import AdminPlugin
from ticketflow.domain.accounts.plugin import AccountsPlugin
from ticketflow.domain.checkin.plugin import CheckInPlugin
from ticketflow.domain.checkin.service import GateRuleCache
from ticketflow.domain.events.plugin import EventsPlugin
from ticketflow.domain.health import HealthPlugin
from ticketflow.domain.notifications.notifier import Notifier
from ticketflow.domain.notifications.plugin import NotificationsPlugin
from ticketflow.domain.payments.plugin import PaymentsPlugin
from ticketflow.domain.payments.service import PaymentService
from ticketflow.domain.stats.plugin import StatsPlugin
from ticketflow.domain.tickets.plugin import TicketsPlugin
from ticketflow.lib.metrics import Metrics, MetricsPlugin
from ticketflow.lib.plugins import BackgroundJob, ContextPlugin
from ticketflow.lib.ratelimit import LimitStore, build_limit_store
from ticketflow.lib.state import AppContext
from ticketflow.settings import Settings


@dataclass(frozen=True)
class Plugins:
    """Every context's plugin, in the order the application installs them."""

    all: list[ContextPlugin]
    notifications: NotificationsPlugin
    payments: PaymentsPlugin
    checkin: CheckInPlugin
    metrics: Metrics
    """The application's metrics (its `/metrics` route, the request counters and the contexts'
    collectors)."""

    @property
    def background_jobs(self) -> list[tuple[str, BackgroundJob]]:
        return [job for plugin in self.all for job in plugin.background_jobs()]


class Application(AppContext):
    """The shared context of one application, with the plugins built on it.

    The notifier, the payments service and the door's gate rules are offered by their contexts'
    plugins; `notifier`, `payments` and `gate_rules` here are the ones those plugins hand out.
    """

    __slots__ = ("plugins",)
    plugins: Plugins

    @property
    def notifier(self) -> Notifier:
        return self.plugins.notifications.notifier

    @notifier.setter
    def notifier(self, notifier: Notifier) -> None:
        self.plugins.notifications.notifier = notifier

    @property
    def payments(self) -> PaymentService:
        return self.plugins.payments.payments

    @property
    def gate_rules(self) -> GateRuleCache:
        return self.plugins.checkin.gate_rules


def assemble(
    settings: Settings, engine: AsyncEngine, store: LimitStore | None = None
) -> tuple[Application, Plugins]:
    """The application context and every context's plugin, for the API and the worker alike."""
    context = Application.build(settings, engine, store or build_limit_store(settings))
    metrics = Metrics()
    notifications = NotificationsPlugin(context)
    payments = PaymentsPlugin(context, notifications)
    accounts = AccountsPlugin(context)
    checkin = CheckInPlugin(accounts)
    context.plugins = Plugins(
        all=[
            MetricsPlugin(settings, metrics),
            HealthPlugin(),
            accounts,
            EventsPlugin(),
            TicketsPlugin(),
            checkin,
            notifications,
            payments,
            StatsPlugin(context, metrics),
            AdminPlugin(context, notifications, checkin),
        ],
        notifications=notifications,
        payments=payments,
        checkin=checkin,
        metrics=metrics,
    )
    return context, context.plugins


def plugins_of(context: Application) -> Plugins:
    return context.plugins
