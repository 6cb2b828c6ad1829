"""How the payments context plugs into the app (filled in by the payment providers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ticketflow.domain.payments.hooks import NoPayments, Payments

if TYPE_CHECKING:
    from ticketflow.extensions import Extensions
    from ticketflow.lib.state import AppContext


def build_payments(context: AppContext) -> Payments:
    return NoPayments()


def payment_extensions(context: AppContext) -> Extensions:
    from ticketflow.extensions import Extensions  # noqa: PLC0415

    return Extensions()
