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
        (scope("POST", "https", "tickets.example.org", origin="http://[x/"), False),  # no URL: no 500
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


def logout(**headers: str) -> Any:
    return {**scope("GET", "https", "tickets.example.org", **headers), "path": "/admin/logout"}


@pytest.mark.parametrize(
    ("request_scope", "accepted"),
    [
        (logout(sec_fetch_site="same-origin", referer="https://tickets.example.org/admin/"), True),
        (logout(), True),  # a browser that says nothing: a logout is all it could cause
        (logout(sec_fetch_site="cross-site"), False),  # a link on another site
        (logout(sec_fetch_site="same-site"), False),  # a sibling sub-domain is another site too
        (logout(referer="https://evil.example/page"), False),
        (logout(referer="http://[x/"), False),  # a malformed Referer is no page of ours (no 500)
        (
            {**scope("GET", "https", "tickets.example.org", sec_fetch_site="cross-site"), "path": "/admin/"},
            True,
        ),
    ],
)
def test_a_logout_link_on_another_site_is_refused(request_scope: Any, accepted: bool) -> None:
    """SQLAdmin logs out with a GET that ends every session of the admin: another site may not."""
    assert (cross_site_reason(request_scope) is None) is accepted
