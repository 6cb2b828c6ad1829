"""A complete, strong production configuration for tests that start the application as production."""

from __future__ import annotations

STRONG_PRODUCTION = {
    "TICKETFLOW_ENV": "production",
    "JWT_SECRET": "tVq3Jx8LmZ2pR7wK0sN5bYc9HdF4gA1eU6iO",
    "SESSION_SECRET": "Pk7Wn2Qz9Xr4Ls8Vd1Tj6Mb3Yc5Hf0Ga7Eu",
    "METRICS_TOKEN": "m4Rz8Kq1Wv6Xn3Lp9Td2Yb7Hs5Jc0Fg8Ae",
    "PUBLIC_BASE_URL": "https://tickets.example.org",
    "PAYMENT_PROVIDER": "stripe",
    "STRIPE_API_KEY": "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
    "STRIPE_WEBHOOK_SECRET": "whsec_9Xa2Lm7Qp4Rt8Vw1Zb6Nc3Jk5",
    "TICKET_SIGNING_KEYS": "1:tNvbHpYlTgL70bNiGezFueLkCZv4UZe55D0we5g35ds",
}
"""Every variable production checks, set to an acceptable value."""


def strong_production(**changes: str) -> dict[str, str]:
    return {**STRONG_PRODUCTION, **changes}


def production_overrides() -> dict[str, str]:
    """`STRONG_PRODUCTION` as keyword arguments of `Settings.with_overrides`."""
    return {
        ("env" if key == "TICKETFLOW_ENV" else key.lower()): value for key, value in STRONG_PRODUCTION.items()
    }
