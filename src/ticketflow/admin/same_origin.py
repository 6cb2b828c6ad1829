"""Cross-site request forgery defence of the back office: unsafe requests must come from itself.

The back office is a cookie-authenticated HTML application, so a page elsewhere could make an
admin's browser post a form to it (create an admin, cancel an event). Every unsafe request
(anything but GET, HEAD, OPTIONS), the login form included, is accepted only when the browser
says it comes from the back office's own origin:

- `Sec-Fetch-Site: cross-site` or `same-site` is refused (a sibling sub-domain is another site's
  page too);
- `Origin` (every current browser sends it on a form POST), or failing that `Referer`, must be
  the request's own scheme and host - the scheme as the trusted proxy forwards it
  (`X-Forwarded-Proto` from `FORWARDED_ALLOW_IPS`), the `Host` header the browser sent - so the
  back office works on whatever address it is reached, without a setting;
- a request with neither header is refused.

Tokens in forms would need every SQLAdmin template changed; the browser's own headers cover the
same attack for the browsers the back office supports.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from litestar.types import Scope

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_PORTS = {"http": "80", "https": "443"}


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def normalised_origin(scheme: str, host: str) -> str:
    """`scheme://host[:port]` in lower case, without the scheme's default port."""
    scheme, host = scheme.lower(), host.lower()
    default = DEFAULT_PORTS.get(scheme)
    if default and host.endswith(f":{default}") and not host.endswith("]"):
        host = host.removesuffix(f":{default}")
    return f"{scheme}://{host}"


def is_origin(url: str, own: str) -> bool:
    """True when `url` (an Origin or a Referer) has the scheme and host of `own`; a malformed one
    (`http://[x/`: no URL at all) is no origin of ours."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return bool(parts.scheme and parts.netloc) and normalised_origin(parts.scheme, parts.netloc) == own


LOGOUT_SUFFIX = "/logout"
"""SQLAdmin logs out with a GET, which ends every session of the admin (`admin/auth.py`): a link
on another site must not do it."""


def cross_site_reason(scope: Scope) -> str | None:
    """Why this request may come from another site; None for safe methods and own-origin requests.
    A GET of the logout page is refused when the browser says (`Sec-Fetch-Site`) or the `Referer`
    shows that another site sent it."""
    if str(scope.get("method", "GET")).upper() in SAFE_METHODS:
        if not str(scope.get("path", "")).rstrip("/").endswith(LOGOUT_SUFFIX):
            return None
        return cross_site_navigation(scope)
    if (header(scope, b"sec-fetch-site") or "").lower() in {"cross-site", "same-site"}:
        return "sent from another site"
    host = header(scope, b"host")
    if not host:
        return "no Host header"
    own = normalised_origin(str(scope.get("scheme", "http")), host)
    origin = header(scope, b"origin")
    if origin is not None:
        return None if is_origin(origin, own) else "Origin is not this site"
    referer = header(scope, b"referer")
    if referer is None:
        return "neither Origin nor Referer"
    return None if is_origin(referer, own) else "Referer is not this site"


def cross_site_navigation(scope: Scope) -> str | None:
    """Why a GET may come from another site (a link or a redirect there), else None; a browser that
    sends neither `Sec-Fetch-Site` nor `Referer` is let through: a logout is all it can cause."""
    if (header(scope, b"sec-fetch-site") or "").lower() in {"cross-site", "same-site"}:
        return "sent from another site"
    referer, host = header(scope, b"referer"), header(scope, b"host")
    if referer is None or host is None:
        return None
    own = normalised_origin(str(scope.get("scheme", "http")), host)
    return None if is_origin(referer, own) else "Referer is not this site"
