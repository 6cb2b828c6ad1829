"""The back office's same-origin rule, on raw ASGI scopes: the scheme the proxy forwarded counts."""

from __future__ import annotations

from typing import Any

import pytest

from ticketflow.admin.same_origin import cross_site_reason


def scope(method: str, scheme: str, host: str, **headers: str) -> Any:
    raw = [(b"host", host.encode())] + [
        (name.replace("_", "-").lower().encode(), value.encode()) for name, value in headers.items()
    ]
    return {"type": "http", "method": method, "scheme": scheme, "headers": raw}


@pytest.mark.parametrize(
    ("request_scope", "accepted"),
    [
        (scope("GET", "http", "a.example"), True),  # safe methods are not checked
        (scope("POST", "https", "tickets.example.org", origin="https://tickets.example.org"), True),
        (scope("POST", "https", "tickets.example.org:443", origin="https://tickets.example.org"), True),
        (scope("POST", "http", "127.0.0.1:8000", origin="http://127.0.0.1:8000"), True),
        (scope("POST", "https", "tickets.example.org", referer="https://tickets.example.org/admin/"), True),
        # behind a proxy that terminates TLS but is not trusted, the scheme stays http
        (scope("POST", "http", "tickets.example.org", origin="https://tickets.example.org"), False),
        (scope("POST", "https", "tickets.example.org", origin="https://tickets.example.org:8443"), False),
        (scope("DELETE", "https", "tickets.example.org", origin="https://evil.example"), False),
        (scope("POST", "https", "tickets.example.org", origin="not a url"), False),
        (scope("POST", "https", "tickets.example.org"), False),
        (
            scope(
                "POST",
                "https",
                "tickets.example.org",
                origin="https://tickets.example.org",
                sec_fetch_site="cross-site",
            ),
            False,
        ),
    ],
)
def test_cross_site_reason(request_scope: Any, accepted: bool) -> None:
    assert (cross_site_reason(request_scope) is None) is accepted
