"""Cross-site request forgery and logout: a page elsewhere cannot act with an admin's cookie, and
a cookie kept after logout opens nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.support.back_office import log_in, own_origin
from ticketflow.db.models.users import User

NEW_ADMIN = {
    "name": "Mallory",
    "email": "mallory@evil.example",
    "password": "mallory-pass-1",
    "role": "admin",
}

FORGED_HEADERS = [
    {"Origin": "https://evil.example"},
    {"Origin": "null"},  # a sandboxed frame or a data: page
    {"Origin": "https://testserver.local"},  # the right host, the wrong scheme
    {"Origin": "http://testserver.local.evil.example"},
    {"Sec-Fetch-Site": "cross-site"},  # with the site's own Origin added below
    {"Sec-Fetch-Site": "same-site"},
    {"Referer": "https://evil.example/page"},
    {},  # neither Origin nor Referer
]


async def users_named(db, email: str) -> int:
    async with db() as session:
        return int(await session.scalar(select(func.count()).select_from(User).where(User.email == email)))


@pytest.mark.parametrize("forged", FORGED_HEADERS)
async def test_forged_cross_site_post_changes_nothing(client, db, back_office, forged) -> None:
    headers = {**forged}
    if "Sec-Fetch-Site" in forged:
        headers["Origin"] = own_origin(client)
    del back_office.headers["Origin"]  # only what this forged request carries

    response = await back_office.post(
        "/admin/user/create", data={**NEW_ADMIN, "save": "Save"}, headers=headers, follow_redirects=False
    )

    assert response.status_code == 403
    assert await users_named(db, NEW_ADMIN["email"]) == 0
    # the admin's own session still works
    assert (await back_office.get("/admin/dashboard", follow_redirects=False)).status_code == 200


async def test_same_origin_form_with_a_referer_only_is_accepted(client, db, back_office) -> None:
    del back_office.headers["Origin"]
    response = await back_office.post(
        "/admin/user/create",
        data={**NEW_ADMIN, "save": "Save"},
        headers={"Referer": f"{own_origin(client)}/admin/user/create", "Sec-Fetch-Site": "same-origin"},
        follow_redirects=False,
    )
    assert response.status_code == 302, response.text
    assert await users_named(db, NEW_ADMIN["email"]) == 1


async def test_forged_login_is_refused_without_a_cookie(client, admin) -> None:
    response = await client.post(
        "/admin/login",
        data={"username": admin.email, "password": admin.password},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert "set-cookie" not in response.headers


async def test_logout_ends_the_session_for_a_replayed_cookie(client, admin) -> None:
    assert (await log_in(client, admin.email, admin.password)).status_code == 302
    kept = dict(client.cookies)
    assert (await client.get("/admin/dashboard", follow_redirects=False)).status_code == 200

    logout = await client.get("/admin/logout", follow_redirects=False)
    assert logout.status_code == 302

    client.cookies.clear()
    client.cookies.update(kept)  # the copy an attacker kept
    refused = await client.get("/admin/dashboard", follow_redirects=False)
    assert refused.status_code == 302
    assert refused.headers["location"].endswith("/admin/login")
    # signing in again works
    client.cookies.clear()
    assert (await log_in(client, admin.email, admin.password)).status_code == 302
    assert (await client.get("/admin/dashboard", follow_redirects=False)).status_code == 200


@pytest.mark.parametrize(
    "forged", [{"Sec-Fetch-Site": "cross-site"}, {"Referer": "https://evil.example/page"}]
)
async def test_a_logout_link_on_another_site_ends_no_session(client, db, back_office, forged) -> None:
    """SQLAdmin's logout is a GET that ends every session of the admin: a link elsewhere may not."""
    del back_office.headers["Origin"]

    refused = await back_office.get("/admin/logout", headers=forged, follow_redirects=False)

    assert refused.status_code == 403
    assert (await back_office.get("/admin/dashboard", follow_redirects=False)).status_code == 200
    own = await back_office.get(
        "/admin/logout", headers={"Sec-Fetch-Site": "same-origin"}, follow_redirects=False
    )
    assert own.status_code in (302, 303)
    assert (await back_office.get("/admin/dashboard", follow_redirects=False)).status_code in (302, 303)
