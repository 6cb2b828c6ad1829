"""Money as people read it: integer minor units written with their currency's own decimals."""

from __future__ import annotations

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


def format_money(amount_cents: int, currency: str) -> str:
    """Integer minor units as a price: 2500 EUR -> "25.00 EUR", 1500 JPY -> "1,500 JPY"."""
    digits = 0 if currency in ZERO_DECIMAL_CURRENCIES else 3 if currency in THREE_DECIMAL_CURRENCIES else 2
    sign = "-" if amount_cents < 0 else ""
    major, minor = divmod(abs(amount_cents), 10**digits)
    fraction = f".{minor:0{digits}d}" if digits else ""
    return f"{sign}{major:,}{fraction} {currency}"


def unit_price_cents(amount_cents: int, quantity: int) -> int:
    """The share of one ticket in an order's amount, rounded down to a whole minor unit.

    An order is always `price_cents * quantity`, so the share is the event's price; rounding down
    means a refund of single tickets can never add up to more than was paid.
    """
    if quantity < 1:
        msg = "an order has at least one ticket"
        raise ValueError(msg)
    return amount_cents // quantity
