"""How a route declares who may call it, for the authentication middleware to read.

Every route needs a bearer token unless its handler (or a router or controller above it) carries
one of these in its `opt`. This is the only way to make a route public.
"""

from __future__ import annotations

from typing import Any

ACCESS_OPT_KEY = "exclude_from_auth"
PUBLIC_ROUTE: dict[str, Any] = {ACCESS_OPT_KEY: True}
"""No credentials read: anyone may call the route (its own checks, such as a signature, apply)."""
