"""Money as people read it: integer minor units written with their currency's own decimals.

The number follows the reader's locale (`25.00 EUR`, `25,00 EUR`); the ISO code stays, so a
back office with several currencies never confuses two dollar signs.
"""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import parse_pattern

from ticketflow.lib.i18n import DEFAULT_LOCALE, FORMAT_LOCALES, as_language

ZERO_DECIMAL_CURRENCIES = frozenset(
    {
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "ISK",
        "JPY",
        "KMF",
        "KRW",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    }
)
THREE_DECIMAL_CURRENCIES = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})


def minor_unit_digits(currency: str) -> int:
    return 0 if currency in ZERO_DECIMAL_CURRENCIES else 3 if currency in THREE_DECIMAL_CURRENCIES else 2


def format_money(amount_cents: int, currency: str, locale: str = DEFAULT_LOCALE) -> str:
    """Integer minor units as a price: 2500 EUR -> "25.00 EUR" (es: "25,00 EUR"), 1500 JPY -> "1,500 JPY"."""
    digits = minor_unit_digits(currency)
    pattern = parse_pattern("#,##0" + ("." + "0" * digits if digits else ""))
    number = pattern.apply(Decimal(amount_cents).scaleb(-digits), FORMAT_LOCALES[as_language(locale)])
    return f"{number} {currency}"


def unit_price_cents(amount_cents: int, quantity: int) -> int:
    """The share of one ticket in an order's amount, rounded down to a whole minor unit.

    An order is always `price_cents * quantity`, so the share is the event's price; rounding down
    means a refund of single tickets can never add up to more than was paid.
    """
    if quantity < 1:
        msg = "an order has at least one ticket"
        raise ValueError(msg)
    return amount_cents // quantity
