"""`ticketflow keys reissue --kid N` after a signing key leaked: every unpaid or active ticket key N
signed gets a new code from the first key (holders e-mailed), nothing else changes, a second run
changes nothing, and the key that signs new codes or an unlisted key is refused."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import msgspec
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select, update

from tests.support.api import buy, make_actor, make_event
from tests.support.databases import settings_for_tests, start_event_ago
from ticketflow.cli import keys_group
from ticketflow.db.models.outbox import OutboxMessage
from ticketflow.db.models.tickets import Ticket
from ticketflow.lib.signed_codes import TicketSigner, generate_signing_key, kid_of
from ticketflow.settings import Settings, signing_key_entries

KEYS = {kid: generate_signing_key(kid) for kid in (1, 2, 3)}
ROTATED = f"{KEYS[3]},{KEYS[2]},{KEYS[1]}"
"""Key 2 leaked: key 3 now signs, 2 and 1 still verify."""


@pytest.fixture
def settings(database_url: str) -> Settings:
    return settings_for_tests(database_url, ticket_signing_keys=ROTATED)


def signer_of(kid: int) -> TicketSigner:
    return TicketSigner(signing_key_entries(KEYS[kid]))


async def signed_before(db: Any, ticket: dict[str, Any], kid: int) -> str:
    """Make `ticket`'s code one that key `kid` signed (as it was issued before the rotation)."""
    code = signer_of(kid).sign(ticket["id"], ticket["event_id"], ticket["ticket_type_id"], 1)
    async with db() as session:
        await session.execute(update(Ticket).where(Ticket.id == ticket["id"]).values(code=code))
        await session.commit()
    return code


async def codes(db: Any) -> dict[int, tuple[str, int]]:
    async with db() as session:
        rows = await session.execute(select(Ticket.id, Ticket.code, Ticket.code_version))
        return {row.id: (row.code, row.code_version) for row in rows}


async def reissue_letters(db: Any) -> list[tuple[str, list[int]]]:
    async with db() as session:
        rows = await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return [
            (row.recipient, msgspec.json.decode(row.payload)["reissued"])
            for row in rows
            if "reissued" in (row.payload or "")
        ]


async def run(settings: Settings, *args: str) -> Result:
    """`ticketflow keys ...` as the console script runs it (its own event loop, the environment)."""
    env = {
        "TICKETFLOW_ENV": "test",
        "DATABASE_URL": settings.database_url,
        "DATABASE_AUTO_MIGRATE": "0",
        "TICKET_SIGNING_KEYS": ROTATED,
    }
    return await asyncio.to_thread(CliRunner().invoke, keys_group, list(args), env=env)


async def test_reissue_gives_the_leaked_keys_tickets_new_codes_once(client, db, settings) -> None:
    admin = await make_actor(client, db, role="admin")
    staff = await make_actor(client, db, role="staff")
    ada = await make_actor(client, db)
    event = await make_event(client, admin)
    past = await make_event(client, admin)
    priced = await make_event(client, admin, price_cents=2000)
    leaked_pair = (await buy(client, ada, event["id"], quantity=2)).json()["tickets"]
    old_key, used = (await buy(client, ada, event["id"], quantity=2)).json()["tickets"]
    (unpaid,) = (await buy(client, ada, priced["id"])).json()["tickets"]
    (over,) = (await buy(client, ada, past["id"])).json()["tickets"]
    for ticket in (*leaked_pair, used, unpaid, over):
        ticket["code"] = await signed_before(db, ticket, 2)
    await signed_before(db, old_key, 1)
    assert (await client.post(f"/tickets/{used['code']}/validate", headers=staff.headers)).status_code == 200
    await start_event_ago(db, past["id"], dt.timedelta(days=2))
    before = await codes(db)

    first = await run(settings, "reissue", "--kid", "2", "--batch-size", "2")

    assert first.exit_code == 0, first.output
    assert "checked 5 tickets with signed codes; key 2 had signed 4 of them" in first.output
    assert "new codes from key 3: 3 active tickets (2 e-mailed to their holders), 1 unpaid" in first.output
    after = await codes(db)
    changed = {ticket_id for ticket_id in after if after[ticket_id] != before[ticket_id]}
    assert changed == {leaked_pair[0]["id"], leaked_pair[1]["id"], unpaid["id"], over["id"]}
    verifier = TicketSigner(signing_key_entries(ROTATED))
    for ticket_id in changed:
        code, version = after[ticket_id]
        assert (kid_of(code), version, verifier.verify(code).ticket_id) == (3, 2, ticket_id)
    assert await reissue_letters(db) == [(ada.email, [leaked_pair[0]["id"], leaked_pair[1]["id"]])]
    leaked = leaked_pair[0]
    old = await client.post(f"/tickets/{leaked['code']}/validate", headers=staff.headers)
    assert (old.status_code, old.json()["result"]) == (404, "invalid")
    new = await client.post(f"/tickets/{after[leaked['id']][0]}/validate", headers=staff.headers)
    assert new.status_code == 200
    bundle = (await client.get(f"/events/{event['id']}/scanner-bundle", headers=admin.headers)).json()
    assert {"ticket_id": leaked["id"], "version": 1} in bundle["revoked"]

    again = await run(settings, "reissue", "--kid", "2")

    assert again.exit_code == 0, again.output
    assert "key 2 had signed 0 of them" in again.output
    assert await codes(db) == after
    assert len(await reissue_letters(db)) == 1


@pytest.mark.parametrize(
    ("kid", "message"),
    [
        ("3", "key 3 is the first in TICKET_SIGNING_KEYS: it would sign the new codes again. Rotate first"),
        ("9", "key 9 is not in TICKET_SIGNING_KEYS (listed: 3, 2, 1)"),
        ("256", "256 is not in the range 0<=x<=255"),
        ("two", "'two' is not a valid integer"),
    ],
)
async def test_reissue_refuses_the_signing_key_and_unknown_keys(client, db, settings, kid, message) -> None:
    admin = await make_actor(client, db, role="admin")
    event = await make_event(client, admin)
    await buy(client, admin, event["id"])
    before = await codes(db)

    result = await run(settings, "reissue", "--kid", kid)

    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert await codes(db) == before
    assert await reissue_letters(db) == []
