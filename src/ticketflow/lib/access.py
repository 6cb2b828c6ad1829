"""How a route declares who may call it, for the authentication middleware to read.

Every route needs a bearer token unless its handler (or a router or controller above it) carries
one of these in its `opt`. This is the only way to make a route public, and the test that walks
every route of the app keeps the list of public ones.
"""

from __future__ import annotations

from typing import Any

ACCESS_OPT_KEY = "access"

PUBLIC = "public"
PUBLIC_ROUTE: dict[str, Any] = {ACCESS_OPT_KEY: PUBLIC}
"""No credentials read: anyone may call the route (its own checks, such as a signature, apply)."""

TOKEN_OPTIONAL = "token-optional"
TOKEN_OPTIONAL_ROUTE: dict[str, Any] = {ACCESS_OPT_KEY: TOKEN_OPTIONAL}
"""Anonymous without an `Authorization` header; a token that is sent must be valid (else 401)."""

ROLE_READ_IN_TRANSACTION = "role-read-in-transaction"
ROLE_READ_IN_TRANSACTION_ROUTE: dict[str, Any] = {ACCESS_OPT_KEY: ROLE_READ_IN_TRANSACTION}
"""A bearer token is required and verified, but the caller is not loaded: the route's service
reads the caller's role with the first statement of its own transaction (the fast paths)."""

TOKEN_KINDS_OPT_KEY = "token_kinds"
"""Kinds of token besides user tokens that a route takes (`opt={TOKEN_KINDS_OPT_KEY: ("scanner",)}`);
every other route refuses them (401)."""
