"""Schemathesis hooks named in schemathesis.toml (loaded by `st run` from the repository root).

Integers as integers: JSON Schema counts `3.0` as an integer, so schemathesis sends
`"quantity": 3.0` as a valid body. The API decodes bodies strictly and refuses a number with a
fraction part where a count or an id is meant (it refuses `"3"` for the same reason); no JSON
Schema keyword says "written without a decimal point", so generated bodies write integral floats
as integers. Every other generated value is sent as it is.
"""

from __future__ import annotations

from typing import Any

import schemathesis


def integers_as_integers(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    if isinstance(value, dict):
        return {key: integers_as_integers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [integers_as_integers(item) for item in value]
    return value


@schemathesis.hook
def map_body(context: schemathesis.HookContext, body: Any) -> Any:
    return integers_as_integers(body)
