"""Response bodies of the payments context that other contexts include in theirs."""

from __future__ import annotations

import datetime as dt

import msgspec


class Payment(msgspec.Struct):
    """Where the buyer pays a pending order (part of the purchase answer)."""

    provider: str
    checkout_url: str
    expires_at: dt.datetime
