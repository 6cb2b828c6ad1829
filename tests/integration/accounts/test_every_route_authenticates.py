"""Every route needs a bearer token unless it is on the public list below.

The test walks the routes of the real application: a route that is not listed must answer 401
without credentials and with a real token presented any other way than
`Authorization: Bearer <token>` (another scheme, no scheme, a cookie, the query string), and get
past authentication with that same token as a bearer token. A route marked public in the code
but missing from the list fails the test too, so making a route public always shows up here.
"""

from __future__ import annotations

import re

from litestar import Litestar
from litestar.routes import ASGIRoute, HTTPRoute

from tests.support.api import make_actor
from ticketflow.lib.access import ACCESS_OPT_KEY, PUBLIC, TOKEN_OPTIONAL

PUBLIC_ROUTES = {
    ("GET", "/health"),
    ("GET", "/ready"),
    ("GET", "/metrics"),  # public unless METRICS_TOKEN is set (the scraper's own token)
    ("POST", "/login"),
    ("POST", "/register"),  # reads an admin's token when one is sent
    ("GET", "/events"),
    ("GET", "/events/{event_id:int}"),  # admins (with a token) see every ticket type
    ("GET", "/events/{event_id:int}/ticket-types"),
    ("GET", "/payments/success"),  # the browser back from a checkout has no token
    ("GET", "/payments/cancelled"),
    ("GET", "/payments/simulated/{order_id:int}"),  # the checkout's secret is in its address
    ("POST", "/payments/simulated/{order_id:int}/pay"),
    ("POST", "/payments/simulated/{order_id:int}/cancel"),
    ("POST", "/payments/stripe/webhook"),  # signed by Stripe (only with PAYMENT_PROVIDER=stripe)
    ("*", "/admin"),  # the back office has its own session login
    ("POST", "/scanners/pair"),  # the one-time pairing code is the credential (rate-limited)
    ("GET", "/scan"),  # the scanner page; its scans send the staff member's token
    ("GET", "/scan-worker.js"),  # the scanner page's service worker (keeps the page on the phone)
    ("GET", "/static/scan/{file_path:path}"),
    ("HEAD", "/static/scan/{file_path:path}"),
    ("GET", "/static/swagger/{file_path:path}"),
    ("HEAD", "/static/swagger/{file_path:path}"),
    ("GET", "/docs"),
    ("GET", "/docs/openapi.json"),
    ("GET", "/docs/oauth2-redirect.html"),
    ("GET", "/docs/{path:str}"),
}
PARAMETER = re.compile(r"{(\w+):(\w+)}")


def access_of_every_route(app: Litestar) -> dict[tuple[str, str], str | None]:
    """(method, path template) -> the route's declared access, for every method of every route."""
    found: dict[tuple[str, str], str | None] = {}
    for route in app.routes:
        if isinstance(route, ASGIRoute):
            found["*", route.path] = route.route_handler.opt.get(ACCESS_OPT_KEY)
        elif isinstance(route, HTTPRoute):
            for method, (handler, _) in route.route_handler_map.items():
                if method != "OPTIONS":  # a preflight never carries credentials nor meets a guard
                    found[method, route.path] = handler.opt.get(ACCESS_OPT_KEY)
    return found


def concrete(path: str) -> str:
    return PARAMETER.sub(lambda found: "1" if found.group(2) == "int" else "x", path)


async def test_only_the_listed_routes_answer_without_a_bearer_token(app, client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    every = access_of_every_route(app)
    public = {route for route, access in every.items() if access in (PUBLIC, TOKEN_OPTIONAL)}
    assert public == PUBLIC_ROUTES & set(every)
    protected = sorted(set(every) - public)
    assert len(protected) > 20

    for method, path in protected:
        for how, sent in (
            ("nothing", {}),
            ("another scheme", {"headers": {"Authorization": f"Basic {admin.token}"}}),
            ("no scheme", {"headers": {"Authorization": admin.token}}),
            ("a cookie", {"cookies": {"token": admin.token}}),
            ("the query", {"params": {"token": admin.token, "access_token": admin.token}}),
        ):
            client.cookies.clear()
            response = await client.request(method, concrete(path), **sent)
            assert response.status_code == 401, (method, path, how, response.text)
            assert response.json()["status_code"] == 401
    client.cookies.clear()
    for method, path in protected:  # the scheme in any case (RFC 9110)
        response = await client.request(
            method, concrete(path), headers={"Authorization": f"bEaReR {admin.token}"}
        )
        assert response.status_code != 401, (method, path, response.text)
