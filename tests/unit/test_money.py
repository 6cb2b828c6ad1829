"""Money as people read it, and a ticket's share of an order, without a database."""

from __future__ import annotations

import pytest

from ticketflow.domain.notifications.compose import money_text
from ticketflow.lib.money import format_money, unit_price_cents


@pytest.mark.parametrize(
    ("cents", "currency", "text"),
    [
        (2500, "EUR", "25.00 EUR"),
        (5, "EUR", "0.05 EUR"),
        (0, "EUR", "0.00 EUR"),
        (123456789, "USD", "1,234,567.89 USD"),
        (1500, "JPY", "1,500 JPY"),
        (1234, "KWD", "1.234 KWD"),
        (-250, "EUR", "-2.50 EUR"),
        (-1, "EUR", "-0.01 EUR"),
        (-1500, "JPY", "-1,500 JPY"),
    ],
)
def test_format_money_uses_the_currency_s_decimals(cents: int, currency: str, text: str) -> None:
    assert format_money(cents, currency) == text


def test_a_free_order_says_free() -> None:
    assert money_text(0, "EUR") == "free"
    assert money_text(1999, "EUR") == "19.99 EUR"


@pytest.mark.parametrize(
    ("amount", "quantity", "unit"),
    [(3000, 3, 1000), (0, 5, 0), (1000, 3, 333), (1, 2, 0), (999, 1, 999)],
)
def test_a_ticket_s_share_is_rounded_down(amount: int, quantity: int, unit: int) -> None:
    assert unit_price_cents(amount, quantity) == unit
    assert unit * quantity <= amount  # refunds of single tickets never exceed the payment


def test_an_order_without_tickets_has_no_share() -> None:
    with pytest.raises(ValueError, match="at least one ticket"):
        unit_price_cents(1000, 0)


def test_checkout_lines_add_up_to_the_order_to_the_cent() -> None:
    from ticketflow.domain.payments.providers import CheckoutLine, checkout_lines

    assert checkout_lines("Gala", [("General", 3, 7500)]) == (CheckoutLine("Gala", 3, 2500),)
    uneven = checkout_lines("Gala", [("General", 1, 2500), ("VIP", 3, 10000)])
    assert uneven == (
        CheckoutLine("Gala - General", 1, 2500),
        CheckoutLine("Gala - VIP", 2, 3333),
        CheckoutLine("Gala - VIP", 1, 3334),
    )
    assert sum(line.quantity * line.unit_amount_cents for line in uneven) == 12500
