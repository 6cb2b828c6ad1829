"""Seed a benchmark database quickly with plain SQL (bulk inserts), and mint bearer tokens."""

from __future__ import annotations

import datetime as dt
from typing import Any

from litestar.security.jwt import Token
from sqlalchemy import Insert, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ticketflow.db.models.events import Event
from ticketflow.db.models.gates import GATE_COUNTER_SLOTS, Gate, GateCounter, Scanner, ScannerSync
from ticketflow.db.models.orders import Order
from ticketflow.db.models.ticket_types import DEFAULT_TYPE_NAME, TicketType
from ticketflow.db.models.tickets import Ticket
from ticketflow.db.models.users import User
from ticketflow.db.models.vouchers import Voucher
from ticketflow.domain.checkin.door import digest
from ticketflow.domain.checkin.scanner_tokens import new_scanner_token
from ticketflow.lib.signed_codes import TicketSigner
from ticketflow.lib.ticket_codes import new_ticket_code

BATCH = 2000


def mint_token(user_id: int, secret: str) -> str:
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    return Token(exp=expires, sub=str(user_id)).encode(secret=secret, algorithm="HS256")


async def insert_users(engine: AsyncEngine, count: int, role: str, prefix: str) -> list[int]:
    now = dt.datetime.now(dt.UTC)
    rows = [
        {
            "name": f"{prefix} {i}",
            "email": f"{prefix}-{i}@bench.example",
            "role": role,
            "password_hash": "$argon2id$v=19$m=1024,t=1,p=1$bench$bench",
            "created_at": now,
            "updated_at": now,
        }
        for i in range(count)
    ]
    async with engine.begin() as connection:
        for start in range(0, count, BATCH):
            await connection.execute(insert(User), rows[start : start + BATCH])
        result = await connection.execute(
            select(User.id).where(User.email.like(f"{prefix}-%")).order_by(User.id)
        )
        return [int(row[0]) for row in result]


async def insert_event(engine: AsyncEngine, admin_id: int, capacity: int, title: str, sold: int = 0) -> int:
    now = dt.datetime.now(dt.UTC)
    values: dict[str, Any] = {
        "title": title,
        "description": "",
        "venue": "Bench Hall",
        "timezone": "UTC",
        "starts_at": now + dt.timedelta(days=7),
        "capacity": capacity,
        "tickets_sold": sold,
        "tickets_held": 0,
        "price_cents": 0,
        "currency": "EUR",
        "max_per_order": 10,
        "status": "scheduled",
        "admin_id": admin_id,
        "created_at": now,
        "updated_at": now,
    }
    async with engine.begin() as connection:
        result = await connection.execute(insert(Event).values(**values))
        event_id = int(result.inserted_primary_key[0])  # type: ignore[index]
        await connection.execute(_free_type(event_id, DEFAULT_TYPE_NAME, capacity, now, sold=sold))
        return event_id


async def insert_active_tickets(engine: AsyncEngine, event_id: int, user_id: int, count: int) -> list[str]:
    """`count` active tickets in one paid order; returns their codes."""
    codes = [new_ticket_code() for _ in range(count)]
    async with engine.begin() as connection:
        await _insert_paid_tickets(connection, event_id, user_id, codes)
    return codes


async def insert_gates_with_scanners(
    engine: AsyncEngine, event_id: int, gates: int, scanners_per_gate: int
) -> list[str]:
    """`gates` gates of the event (each admitting the event's one type, so the type is checked),
    each with `scanners_per_gate` paired scanner devices; returns the devices' tokens."""
    now = dt.datetime.now(dt.UTC)
    tokens = []
    async with engine.begin() as connection:
        type_id = await connection.scalar(select(TicketType.id).where(TicketType.event_id == event_id))
        for number in range(gates):
            gate = await connection.execute(
                insert(Gate).values(
                    event_id=event_id,
                    name=f"Gate {number + 1}",
                    ticket_type_ids=[type_id],
                    allow_reentry=True,
                    created_at=now,
                    updated_at=now,
                )
            )
            gate_id = int(gate.inserted_primary_key[0])  # type: ignore[index]
            await connection.execute(
                insert(GateCounter),
                [{"gate_id": gate_id, "slot": slot} for slot in range(GATE_COUNTER_SLOTS)],
            )
            for device in range(scanners_per_gate):
                scanner = await connection.execute(
                    insert(Scanner).values(
                        event_id=event_id,
                        gate_id=gate_id,
                        name=f"Phone {number + 1}.{device + 1}",
                        pairing_expires_at=now,
                        paired_at=now,
                        expires_at=now + dt.timedelta(hours=2),
                        created_at=now,
                        updated_at=now,
                    )
                )
                scanner_id = int(scanner.inserted_primary_key[0])  # type: ignore[index]
                await connection.execute(insert(ScannerSync).values(scanner_id=scanner_id))
                token = new_scanner_token(scanner_id)
                await connection.execute(
                    update(Scanner).where(Scanner.id == scanner_id).values(token_hash=digest(token))
                )
                tokens.append(token)
    return tokens


async def insert_signed_tickets(
    engine: AsyncEngine, signer: TicketSigner, event_id: int, user_id: int, count: int
) -> list[tuple[int, str]]:
    """`count` active tickets in one paid order, each holding its `tf2.` code (version 1):
    `[(ticket id, code)]` in id order."""
    async with engine.begin() as connection:
        order_id, type_id = await _insert_paid_tickets(
            connection, event_id, user_id, [f"seed.{event_id}.{index}" for index in range(count)]
        )
        found = await connection.execute(
            select(Ticket.id).where(Ticket.order_id == order_id).order_by(Ticket.id)
        )
        signed = [(int(row[0]), signer.sign(int(row[0]), event_id, type_id, 1)) for row in found]
        for start in range(0, len(signed), BATCH):
            chunk = signed[start : start + BATCH]
            cases = " ".join(f"WHEN {ticket_id} THEN '{code}'" for ticket_id, code in chunk)
            listed = ", ".join(str(ticket_id) for ticket_id, _ in chunk)
            await connection.execute(
                text(f"UPDATE tickets SET code = CASE id {cases} END WHERE id IN ({listed})")  # noqa: S608 - ids and base64url codes only
            )
    return signed


async def _insert_paid_tickets(
    connection: AsyncConnection, event_id: int, user_id: int, codes: list[str]
) -> tuple[int, int]:
    """Active tickets with `codes` in one paid order: (order id, ticket type id)."""
    now = dt.datetime.now(dt.UTC)
    order = await connection.execute(
        insert(Order).values(
            user_id=user_id,
            event_id=event_id,
            quantity=len(codes),
            amount_cents=0,
            currency="EUR",
            status="paid",
            paid_at=now,
            refunded_cents=0,
            created_at=now,
            updated_at=now,
        )
    )
    order_id = int(order.inserted_primary_key[0])  # type: ignore[index]
    type_id = int(await connection.scalar(select(TicketType.id).where(TicketType.event_id == event_id)) or 0)
    rows = [
        {
            "order_id": order_id,
            "user_id": user_id,
            "event_id": event_id,
            "ticket_type_id": type_id,
            "code": code,
            "status": "active",
            "created_at": now,
            "updated_at": now,
        }
        for code in codes
    ]
    for start in range(0, len(rows), BATCH):
        await connection.execute(insert(Ticket), rows[start : start + BATCH])
    return order_id, type_id


async def insert_ticket_type(
    engine: AsyncEngine, event_id: int, name: str, capacity: int | None, *, hidden: bool = False
) -> int:
    """Another free type of the event (after its first)."""
    now = dt.datetime.now(dt.UTC)
    async with engine.begin() as connection:
        result = await connection.execute(
            _free_type(event_id, name, capacity, now, hidden=hidden, position=1)
        )
        return int(result.inserted_primary_key[0])  # type: ignore[index]


def _free_type(
    event_id: int,
    name: str,
    capacity: int | None,
    now: dt.datetime,
    *,
    sold: int = 0,
    hidden: bool = False,
    position: int = 0,
) -> Insert:
    """The INSERT of a free, active ticket type of the event."""
    return insert(TicketType).values(
        event_id=event_id,
        name=name,
        description="",
        price_cents=0,
        tax_rate_bp=0,
        capacity=capacity,
        sold=sold,
        held=0,
        hidden=hidden,
        position=position,
        active=True,
        created_at=now,
        updated_at=now,
    )


async def insert_voucher(engine: AsyncEngine, event_id: int, code: str, max_uses: int) -> None:
    """A 0 % voucher that unlocks the event's hidden types, `max_uses` times."""
    now = dt.datetime.now(dt.UTC)
    async with engine.begin() as connection:
        await connection.execute(
            insert(Voucher).values(
                event_id=event_id,
                code=code,
                kind="percent",
                value=0,
                max_uses=max_uses,
                uses=0,
                unlocks_hidden=True,
                created_at=now,
                updated_at=now,
            )
        )
