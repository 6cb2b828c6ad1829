"""Arrange helpers for offline scanning: paired devices, signed codes, offline scans."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from sqlalchemy import select, update

from tests.support.api import Actor, buy, make_actor, make_event
from ticketflow.db.models.tickets import Ticket
from ticketflow.lib.signed_codes import TicketSigner
from ticketflow.settings import Settings

_client_ids = itertools.count(1)


async def pair_device(client: Any, admin: Actor, event_id: int, **body: Any) -> tuple[int, dict[str, str]]:
    """A paired scanner of the event: its id and the headers carrying its token."""
    created = await client.post(
        f"/events/{event_id}/scanners", json={"name": "Phone", **body}, headers=admin.headers
    )
    assert created.status_code == 201, created.text
    paired = await client.post("/scanners/pair", json={"code": created.json()["pairing_code"]})
    assert paired.status_code == 200, paired.text
    return created.json()["id"], {"Authorization": f"Bearer {paired.json()['access_token']}"}


async def signed_tickets(
    client: Any, db: Any, settings: Settings, holder: Actor, event_id: int, quantity: int = 1
) -> list[dict[str, Any]]:
    """Bought tickets, each holding the `tf2.` code of its current version."""
    response = await buy(client, holder, event_id, quantity)
    assert response.status_code == 201, response.text
    signer = TicketSigner.from_settings(settings)
    tickets = []
    async with db() as session:
        for bought in response.json()["tickets"]:
            ticket = await session.get(Ticket, bought["id"])
            code = signer.sign(ticket.id, ticket.event_id, ticket.ticket_type_id, ticket.code_version)
            if ticket.code != code:
                await session.execute(update(Ticket).where(Ticket.id == ticket.id).values(code=code))
            tickets.append({**bought, "code": code, "version": ticket.code_version})
        await session.commit()
    return tickets


async def reissue(db: Any, settings: Settings, ticket_id: int) -> str:
    """The ticket under a new code version (as a transfer does); the old code is revoked."""
    signer = TicketSigner.from_settings(settings)
    async with db() as session:
        ticket = (await session.scalars(select(Ticket).where(Ticket.id == ticket_id))).one()
        version = ticket.code_version + 1
        code = signer.sign(ticket.id, ticket.event_id, ticket.ticket_type_id, version)
        ticket.code, ticket.code_version = code, version
        await session.commit()
    return code


def scan(
    code: str, at: dt.datetime, *, result: str = "valid", client_id: str | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "client_id": client_id or f"c-{next(_client_ids)}",
        "code": code,
        "scanned_at": at.isoformat(),
        "offline_result": result,
        **extra,
    }


def minutes_ago(minutes: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes)


async def gate_with_tickets(
    client: Any, db: Any, settings: Settings, title: str, quantity: int
) -> tuple[Actor, dict[str, Any], int, list[dict[str, Any]]]:
    """(admin, event, the id of its gate "North", `quantity` signed tickets of a holder)."""
    admin = await make_actor(client, db, role="admin")
    holder = await make_actor(client, db)
    event = await make_event(client, admin, title=title)
    gate = await client.post(f"/events/{event['id']}/gates", json={"name": "North"}, headers=admin.headers)
    assert gate.status_code == 201, gate.text
    tickets = await signed_tickets(client, db, settings, holder, event["id"], quantity=quantity)
    return admin, event, gate.json()["id"], tickets
