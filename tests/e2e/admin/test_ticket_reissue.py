"""The back office's "New code" action on tickets: through the same service as the API, confirmed
and reported by a flash message; refused to door staff, to forged clicks and for tickets that are
not active, with nothing changed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from tests.support.api import Actor, buy, make_actor, make_event
from tests.support.back_office import log_in
from ticketflow.db.models.outbox import OutboxMessage
from ticketflow.db.models.tickets import Ticket

FROM_THE_LIST = {"Referer": "http://testserver.local/admin/ticket/list"}


async def versions(db: Any) -> dict[int, tuple[str, int]]:
    async with db() as session:
        rows = await session.execute(select(Ticket.id, Ticket.code, Ticket.code_version))
        return {row.id: (row.code, row.code_version) for row in rows}


async def new_code_letters(db: Any) -> int:
    async with db() as session:
        return int(
            await session.scalar(select(func.count()).where(OutboxMessage.payload.contains('"reissued"')))
            or 0
        )


async def two_tickets(client, db, admin: Actor) -> list[dict[str, Any]]:
    holder = await make_actor(client, db)
    event = await make_event(client, admin)
    tickets: list[dict[str, Any]] = (await buy(client, holder, event["id"], quantity=2)).json()["tickets"]
    return tickets


async def test_an_admin_gives_a_ticket_a_new_code(client, db, admin, back_office) -> None:
    ticket, other = await two_tickets(client, db, admin)
    details = await client.get(f"/admin/ticket/details/{ticket['id']}")
    assert "New code" in details.text
    assert "Their current codes stop admitting anyone at once" in details.text  # the confirmation

    response = await client.get(
        f"/admin/ticket/action/reissue?pks={ticket['id']}", headers=FROM_THE_LIST, follow_redirects=False
    )

    assert response.status_code == 302
    assert response.headers["location"].endswith(f"/admin/ticket/details/{ticket['id']}")
    found = await versions(db)
    assert found[ticket["id"]][1] == 2
    assert found[ticket["id"]][0] != ticket["code"]
    assert found[other["id"]] == (other["code"], 1)
    assert await new_code_letters(db) == 1
    page = await client.get(response.headers["location"])
    assert "1 ticket(s) got a new code; the holders are e-mailed." in page.text
    old = await client.post(f"/tickets/{ticket['code']}/validate", headers=admin.headers)
    assert (old.status_code, old.json()["result"]) == (404, "invalid")


async def test_a_used_ticket_keeps_its_code(client, db, admin, back_office) -> None:
    used, active = await two_tickets(client, db, admin)
    assert (await client.post(f"/tickets/{used['code']}/validate", headers=admin.headers)).status_code == 200

    response = await client.get(
        f"/admin/ticket/action/reissue?pks={used['id']},{active['id']}", headers=FROM_THE_LIST
    )

    assert response.status_code == 200  # the list, after the redirect
    assert f"#{used['id']}: only an active ticket can get a new code; this one is used" in response.text
    assert "1 ticket(s) got a new code" in response.text
    found = await versions(db)
    assert found[used["id"]] == (used["code"], 1)
    assert found[active["id"]][1] == 2


async def test_door_staff_and_forged_clicks_are_refused(client, db, admin) -> None:
    ticket, _ = await two_tickets(client, db, admin)
    before = await versions(db)
    url = f"/admin/ticket/action/reissue?pks={ticket['id']}"
    assert (await log_in(client, admin.email, admin.password)).status_code == 302
    for headers in ({}, {"Sec-Fetch-Site": "cross-site"}, {"Referer": "https://evil.example/admin/"}):
        assert (await client.get(url, headers=headers)).status_code == 403, headers
    assert (await client.get("/admin/ticket/action/reissue?pks=x", headers=FROM_THE_LIST)).status_code == 400

    staff = await make_actor(client, db, role="staff")
    client.cookies.clear()
    assert (await log_in(client, staff.email, staff.password)).status_code == 302
    refused = await client.get(url, headers=FROM_THE_LIST, follow_redirects=False)

    assert refused.status_code == 403
    assert await versions(db) == before
    assert await new_code_letters(db) == 0
