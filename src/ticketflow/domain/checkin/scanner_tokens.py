"""The bearer tokens of paired scanner devices: `tfs.<scanner id>.<secret>`.

A scanner token may call only the routes that name its kind in their `opt` (door validation, the
scanner bundle, the sync of offline scans);
the middleware refuses it everywhere else. Its secret, expiry and revocation are checked by the
door's own transaction against the scanner's row (only the token's digest is stored), so a
revocation takes effect with the next scan.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from litestar.exceptions import NotAuthorizedException

from ticketflow.domain.accounts.auth import Credentials

SCANNER_TOKEN = "scanner"
PREFIX = "tfs."
FAR_FUTURE = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)
"""The token itself carries no expiry: the scanner's row does."""
MAX_SCANNER_ID = 2**53 - 1


def new_scanner_token(scanner_id: int) -> str:
    return f"{PREFIX}{scanner_id}.{secrets.token_urlsafe(32)}"


class ScannerTokens:
    name = SCANNER_TOKEN

    def accepts(self, encoded: str) -> bool:
        return encoded.startswith(PREFIX)

    def verify(self, encoded: str) -> Credentials:
        number, _, secret = encoded.removeprefix(PREFIX).partition(".")
        well_formed = number.isascii() and number.isdigit() and len(number) <= len(str(MAX_SCANNER_ID))
        if not well_formed or not 1 <= int(number) <= MAX_SCANNER_ID or len(secret) < 32:
            raise NotAuthorizedException("malformed scanner token")
        return Credentials(SCANNER_TOKEN, int(number), FAR_FUTURE)

    async def caller(self, credentials: Credentials) -> Any:
        return None  # never a user: refused by every route that loads its caller
