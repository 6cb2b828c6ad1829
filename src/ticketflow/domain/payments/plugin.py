"""How the payments context plugs into the app: the provider from settings, the `payments`
dependency it offers the tickets context, its routes and its jobs.

`PAYMENT_PROVIDER=simulated` (the default) serves its own checkout page; `stripe` uses Stripe
Checkout and its webhook. Refunds of earlier simulated payments keep working after a switch.
"""

from __future__ import annotations

from litestar import Router
from litestar.config.app import AppConfig
from litestar.di import Provide
from litestar.types import ControllerRouterHandler

from ticketflow.domain.notifications.plugin import NotificationsPlugin
from ticketflow.domain.payments.controller import (
    LandingController,
    SimulatedCheckoutController,
    StripeWebhookController,
)
from ticketflow.domain.payments.hooks import Payments
from ticketflow.domain.payments.providers import PaymentProvider
from ticketflow.domain.payments.service import PaymentService
from ticketflow.domain.payments.simulated import SIMULATED, SimulatedProvider
from ticketflow.domain.payments.stripe_checkout import STRIPE, StripeProvider
from ticketflow.lib.plugins import BackgroundJob, ContextPlugin
from ticketflow.lib.state import AppContext


class PaymentsPlugin(ContextPlugin):
    def __init__(self, context: AppContext, notifications: NotificationsPlugin) -> None:
        settings = context.settings
        simulated = SimulatedProvider(settings.public_base_url)
        providers: dict[str, PaymentProvider] = {SIMULATED: simulated}
        active: PaymentProvider = simulated
        if settings.payment_provider == STRIPE:
            active = providers[STRIPE] = StripeProvider(settings)
        self.payments = PaymentService(context, notifications.current_notifier, active, providers)

    def current_payments(self) -> Payments:
        return self.payments

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        service = self.payments
        dependencies = {"payment_service": Provide(lambda: service, sync_to_thread=False)}
        handlers: list[ControllerRouterHandler] = [LandingController]
        active = service.provider
        if isinstance(active, SimulatedProvider):
            handlers.append(SimulatedCheckoutController)
            dependencies["simulated_provider"] = Provide(lambda: active, sync_to_thread=False)
        if isinstance(active, StripeProvider):
            handlers.append(StripeWebhookController)
            dependencies["stripe_provider"] = Provide(lambda: active, sync_to_thread=False)
        app_config.route_handlers.append(Router(path="/", route_handlers=handlers, dependencies=dependencies))
        app_config.dependencies["payments"] = Provide(self.current_payments, sync_to_thread=False)
        return app_config

    def background_jobs(self) -> list[tuple[str, BackgroundJob]]:
        service = self.payments

        async def sweep_expired_holds(_: AppContext) -> int:
            return await service.sweep_expired_holds()

        async def carry_out_refunds(_: AppContext) -> int:
            return await service.carry_out_refunds()

        return [("payments-expire-holds", sweep_expired_holds), ("payments-refunds", carry_out_refunds)]
