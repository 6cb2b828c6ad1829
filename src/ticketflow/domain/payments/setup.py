"""How the payments context plugs into the app: the provider from settings, routes and jobs.

`PAYMENT_PROVIDER=simulated` (the default) serves its own checkout page; `stripe` uses Stripe
Checkout and its webhook. Refunds of earlier simulated payments keep working after a switch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from litestar import Router
from litestar.di import Provide
from litestar.types import ControllerRouterHandler

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

if TYPE_CHECKING:
    from ticketflow.extensions import Extensions
    from ticketflow.lib.state import AppContext


def build_payments(context: AppContext) -> Payments:
    settings = context.settings
    simulated = SimulatedProvider(settings.public_base_url)
    providers: dict[str, PaymentProvider] = {SIMULATED: simulated}
    active: PaymentProvider = simulated
    if settings.payment_provider == STRIPE:
        active = providers[STRIPE] = StripeProvider(settings)
    return PaymentService(context, active, providers)


def payment_extensions(context: AppContext) -> Extensions:
    from ticketflow.extensions import Extensions  # noqa: PLC0415

    service = context.payments
    if not isinstance(service, PaymentService):
        return Extensions()

    async def sweep_expired_holds(_: AppContext) -> int:
        return await service.sweep_expired_holds()

    async def carry_out_refunds(_: AppContext) -> int:
        return await service.carry_out_refunds()

    dependencies = {"payment_service": Provide(lambda: service, sync_to_thread=False)}
    handlers: list[ControllerRouterHandler] = [LandingController]
    active = service.provider
    if isinstance(active, SimulatedProvider):
        handlers.append(SimulatedCheckoutController)
        dependencies["simulated_provider"] = Provide(lambda: active, sync_to_thread=False)
    if isinstance(active, StripeProvider):
        handlers.append(StripeWebhookController)
        dependencies["stripe_provider"] = Provide(lambda: active, sync_to_thread=False)
    return Extensions(
        route_handlers=[Router(path="/", route_handlers=handlers, dependencies=dependencies)],
        background_jobs=[
            ("payments-expire-holds", sweep_expired_holds),
            ("payments-refunds", carry_out_refunds),
        ],
    )
