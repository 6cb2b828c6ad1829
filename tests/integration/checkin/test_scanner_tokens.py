"""A paired scanner's token: validate only, for its event only, refused at once when revoked."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from tests.integration.accounts.test_every_route_authenticates import access_of_every_route, concrete
from tests.support.api import buy, make_actor, make_event
from tests.support.factories import in_days
from ticketflow.db.models.checkins import CheckIn
from ticketflow.db.models.gates import Scanner
from ticketflow.db.models.tickets import Ticket
from ticketflow.lib.access import PUBLIC, TOKEN_OPTIONAL

VALIDATE = ("POST", "/tickets/{qr_code:str}/validate")
SCANNER_ROUTES = {
    VALIDATE,
    ("GET", "/events/{event_id:int}/scanner-bundle"),
    ("POST", "/check-ins/sync"),
}


@pytest.fixture
async def paired(client, db):
    admin = await make_actor(client, db, role="admin")
    holder = await make_actor(client, db, name="Alan Turing")
    event = await make_event(client, admin, title="Door night")
    created = await client.post(
        f"/events/{event['id']}/scanners", json={"name": "Phone"}, headers=admin.headers
    )
    pairing = await client.post("/scanners/pair", json={"code": created.json()["pairing_code"]})
    assert pairing.status_code == 200, pairing.text
    token = pairing.json()["access_token"]
    return admin, holder, event, created.json()["id"], {"Authorization": f"Bearer {token}"}


async def scanner_row(db, scanner_id):
    async with db() as session:
        return await session.get(Scanner, scanner_id)


async def test_a_scanner_validates_for_its_event_and_is_logged(client, db, paired) -> None:
    admin, holder, event, scanner_id, headers = paired
    ticket = (await buy(client, holder, event["id"])).json()["tickets"][0]
    first = await client.post(f"/tickets/{ticket['code']}/validate", headers=headers)
    assert first.status_code == 200, first.text
    assert first.json()["result"] == "valid"
    seen = (await scanner_row(db, scanner_id)).last_seen_at
    assert seen is not None
    again = await client.post(
        f"/tickets/{ticket['code']}/validate", json={"event_id": event["id"]}, headers=headers
    )
    assert again.status_code == 409
    assert (await scanner_row(db, scanner_id)).last_seen_at == seen  # not a write per scan
    async with db() as session:
        log = (await session.execute(select(CheckIn.scanner_id, CheckIn.scanned_by_id, CheckIn.result))).all()
    assert [tuple(row) for row in log] == [(scanner_id, None, "valid"), (scanner_id, None, "already_used")]
    listed = (await client.get(f"/events/{event['id']}/scanners", headers=admin.headers)).json()
    assert (listed[0]["scans"], listed[0]["admitted"]) == (2, 1)


async def test_a_scanner_cannot_scan_for_another_event(client, db, paired) -> None:
    admin, holder, _, _, headers = paired
    other = await make_event(client, admin, title="Elsewhere")
    ticket = (await buy(client, holder, other["id"])).json()["tickets"][0]
    response = await client.post(f"/tickets/{ticket['code']}/validate", headers=headers)
    assert response.status_code == 422
    assert response.json()["reason"] == "wrong_event"
    declared = await client.post(
        f"/tickets/{ticket['code']}/validate", json={"event_id": other["id"]}, headers=headers
    )
    assert declared.status_code == 403
    async with db() as session:
        assert (
            await session.scalar(select(CheckIn.result).where(CheckIn.ticket_id == ticket["id"])) == "invalid"
        )
        assert len((await session.execute(select(CheckIn.id))).all()) == 1


async def test_revocation_and_expiry_take_effect_at_once(client, db, paired) -> None:
    admin, holder, event, scanner_id, headers = paired
    ticket = (await buy(client, holder, event["id"])).json()["tickets"][0]
    assert (await client.post(f"/scanners/{scanner_id}/revoke", headers=admin.headers)).status_code == 200
    refused = await client.post(f"/tickets/{ticket['code']}/validate", headers=headers)
    assert refused.status_code == 401
    async with db() as session:
        await session.execute(update(Scanner).values(revoked_at=None, expires_at=in_days(-1)))
        await session.commit()
    assert (await client.post(f"/tickets/{ticket['code']}/validate", headers=headers)).status_code == 401
    forged = {"Authorization": headers["Authorization"][:-4] + "AAAA"}
    async with db() as session:
        await session.execute(update(Scanner).values(expires_at=in_days(1)))
        await session.commit()
    assert (await client.post(f"/tickets/{ticket['code']}/validate", headers=forged)).status_code == 401
    async with db() as session:
        assert (await session.execute(select(CheckIn.id))).all() == []
        assert (await session.get(Scanner, scanner_id)).last_seen_at is None
        assert (await session.get(Ticket, ticket["id"])).status == "active"  # refused with its admission


async def test_a_scanner_token_is_refused_on_every_other_route(app, client, db, paired) -> None:
    _, _, event, _, headers = paired
    every = access_of_every_route(app)
    protected = sorted(route for route, access in every.items() if access not in (PUBLIC, TOKEN_OPTIONAL))
    assert VALIDATE in protected
    assert len(protected) > 20
    for method, path in protected:
        if (method, path) in SCANNER_ROUTES:
            continue
        response = await client.request(
            method, concrete(path).replace("/1/", f"/{event['id']}/"), headers=headers
        )
        assert response.status_code == 401, (method, path, response.text)
