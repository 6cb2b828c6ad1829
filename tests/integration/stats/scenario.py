"""A day of sales and door scans, seeded as clients would, with the figures kept by hand.

Free events are sold, cancelled and scanned through the public API. Paid orders are written
with the model classes, as the payments context records them (no provider is reachable in
tests). Every action adjusts `expected`, which is computed from what the test did - never
read back from the database - so the stats and dashboard are checked against an independent
count.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from tests.support.api import Actor, buy, make_actor, make_event
from ticketflow.db.models.events import Event
from ticketflow.db.models.orders import Order
from ticketflow.db.models.outbox import OutboxMessage
from ticketflow.db.models.payments import Checkout, Payment, ProviderEvent, Refund
from ticketflow.db.models.ticket_types import TicketType
from ticketflow.db.models.tickets import Ticket
from ticketflow.lib.ticket_codes import new_ticket_code

FIGURE_NAMES = (
    "capacity",
    "currency",
    "status",
    "tickets_sold",
    "tickets_held",
    "tickets_available",
    "tickets_cancelled",
    "checked_in",
    "check_in_rate",
    "scans_refused",
    "duplicate_admissions",
    "gross_cents",
    "refunded_cents",
    "revenue_cents",
)


@dataclass
class Expected:
    """The figures an event must show, kept by the test as it acts."""

    capacity: int
    currency: str = "EUR"
    status: str = "scheduled"
    tickets_sold: int = 0
    tickets_held: int = 0
    tickets_cancelled: int = 0
    checked_in: int = 0
    scans_refused: int = 0
    duplicate_admissions: int = 0
    gross_cents: int = 0
    refunded_cents: int = 0

    @property
    def tickets_available(self) -> int:
        return self.capacity - self.tickets_sold - self.tickets_held

    @property
    def revenue_cents(self) -> int:
        return self.gross_cents - self.refunded_cents

    @property
    def check_in_rate(self) -> float:
        return round(self.checked_in / self.tickets_sold, 4) if self.tickets_sold else 0.0

    def as_figures(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in FIGURE_NAMES}


CHECKOUT_SECRET = "checkout-secret-token-not-for-screens"


@dataclass
class Scenario:
    admin: Actor
    staff: Actor
    attendee: Actor
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    expected: dict[str, Expected] = field(default_factory=dict)

    def event_id(self, name: str) -> int:
        return int(self.events[name]["id"])

    def totals(self) -> dict[str, Any]:
        rows = list(self.expected.values())
        sold = sum(r.tickets_sold for r in rows)
        checked_in = sum(r.checked_in for r in rows)
        revenue: dict[str, list[int]] = {}
        for r in rows:
            if r.gross_cents or r.refunded_cents:
                money = revenue.setdefault(r.currency, [0, 0])
                money[0] += r.gross_cents
                money[1] += r.refunded_cents
        return {
            "events": len(rows),
            "capacity": sum(r.capacity for r in rows),
            "tickets_sold": sold,
            "tickets_held": sum(r.tickets_held for r in rows),
            "tickets_available": sum(r.tickets_available for r in rows),
            "tickets_cancelled": sum(r.tickets_cancelled for r in rows),
            "checked_in": checked_in,
            "check_in_rate": round(checked_in / sold, 4) if sold else 0.0,
            "scans_refused": sum(r.scans_refused for r in rows),
            "duplicate_admissions": sum(r.duplicate_admissions for r in rows),
            "revenue": [
                {"currency": c, "gross_cents": g, "refunded_cents": f, "revenue_cents": g - f}
                for c, (g, f) in sorted(revenue.items())
            ],
        }


async def scan(client: httpx.AsyncClient, staff: Actor, code: str, door: int | None = None) -> str:
    body = {"event_id": door} if door is not None else {}
    response = await client.post(f"/tickets/{code}/validate", json=body, headers=staff.headers)
    result: str = response.json()["result"]
    return result


async def bought(
    client: httpx.AsyncClient, buyer: Actor, event_id: int, quantity: int
) -> list[dict[str, Any]]:
    response = await buy(client, buyer, event_id, quantity)
    assert response.status_code == 201, response.text
    tickets: list[dict[str, Any]] = response.json()["tickets"]
    return tickets


async def insert_order(
    db: async_sessionmaker[Any],
    *,
    user_id: int,
    event: dict[str, Any],
    ticket_statuses: list[str],
    order_status: str,
    refunded_cents: int = 0,
    paid_at: dt.datetime | None = None,
) -> list[str]:
    """An order and its tickets as the payments context writes them; returns the ticket codes."""
    now = dt.datetime.now(dt.UTC)
    paid = order_status in ("paid", "refunded")
    paid_at = paid_at or now
    codes = [new_ticket_code() for _ in ticket_statuses]
    async with db() as session:
        order = Order(
            user_id=user_id,
            event_id=event["id"],
            quantity=len(ticket_statuses),
            amount_cents=event["price_cents"] * len(ticket_statuses),
            currency=event["currency"],
            status=order_status,
            paid_at=paid_at if paid else None,
            expires_at=None if paid else now + dt.timedelta(minutes=15),
            payment_provider="simulated",
            refunded_cents=refunded_cents,
        )
        session.add(order)
        await session.flush()
        type_id = await session.scalar(
            select(TicketType.id).where(TicketType.event_id == event["id"]).order_by(TicketType.id).limit(1)
        )
        for code, status in zip(codes, ticket_statuses, strict=True):
            session.add(
                Ticket(
                    order_id=order.id,
                    user_id=user_id,
                    event_id=event["id"],
                    ticket_type_id=type_id,
                    code=code,
                    status=status,
                    cancelled_at=now if status == "cancelled" else None,
                    used_at=now if status == "used" else None,
                )
            )
        sold = sum(status in ("active", "used") for status in ticket_statuses)
        held = ticket_statuses.count("pending")
        await session.execute(
            update(Event)
            .where(Event.id == event["id"])
            .values(tickets_sold=Event.tickets_sold + sold, tickets_held=Event.tickets_held + held)
        )
        await session.execute(
            update(TicketType)
            .where(TicketType.id == type_id)
            .values(sold=TicketType.sold + sold, held=TicketType.held + held)
        )
        await session.commit()
    return codes


async def seed(client: httpx.AsyncClient, db: async_sessionmaker[Any]) -> Scenario:
    admin = await make_actor(client, db, role="admin")
    staff = await make_actor(client, db, role="staff")
    alice = await make_actor(client, db, name="Alice Martin")
    s = Scenario(admin=admin, staff=staff, attendee=alice)
    bob = await make_actor(client, db, name="Bob Durand")
    carol = await make_actor(client, db, name='=HYPERLINK("http://evil.example")')
    await free_events(client, s, alice, bob, carol)
    await paid_events(client, db, s, alice, bob, carol)
    await money_and_mail_records(db, s)
    return s


async def add_event(client: httpx.AsyncClient, s: Scenario, name: str, **body: Any) -> tuple[int, Expected]:
    created = await make_event(client, s.admin, title=name, **body)
    s.events[name] = created
    s.expected[name] = Expected(capacity=created["capacity"], currency=created["currency"])
    return created["id"], s.expected[name]


async def free_events(client: httpx.AsyncClient, s: Scenario, alice: Actor, bob: Actor, carol: Actor) -> None:
    staff = s.staff
    # Alpha: sales, one cancellation, admissions and refusals of every kind.
    alpha, a = await add_event(client, s, "Alpha", capacity=10)
    beta, b = await add_event(client, s, "Beta", capacity=4)
    alice_t = await bought(client, alice, alpha, 3)
    bob_t = await bought(client, bob, alpha, 2)
    carol_t = await bought(client, carol, alpha, 1)
    a.tickets_sold += 6
    cancelled = await client.post(f"/tickets/{alice_t[2]['id']}/cancel", headers=alice.headers)
    assert cancelled.status_code == 200, cancelled.text
    a.tickets_sold -= 1
    a.tickets_cancelled += 1
    assert await scan(client, staff, alice_t[0]["code"], door=alpha) == "valid"
    assert await scan(client, staff, bob_t[0]["code"]) == "valid"
    a.checked_in += 2
    assert await scan(client, staff, bob_t[0]["code"]) == "already_used"
    assert await scan(client, staff, alice_t[2]["code"]) == "invalid"  # cancelled
    assert await scan(client, staff, carol_t[0]["code"], door=beta) == "invalid"  # wrong door
    a.scans_refused += 3
    assert await scan(client, staff, "tf1.not-a-ticket") == "invalid"  # no event to count it for

    # Beta: sold out; a late buyer is refused and changes nothing.
    beta_t = await bought(client, alice, beta, 4)
    b.tickets_sold += 4
    assert (await buy(client, bob, beta, 1)).status_code == 409
    assert await scan(client, staff, beta_t[0]["code"], door=beta) == "valid"
    b.checked_in += 1

    # Gamma: one holder admitted, then the event is cancelled (the used ticket stays used).
    gamma, c = await add_event(client, s, "Gamma", capacity=3)
    gamma_t = await bought(client, bob, gamma, 2)
    assert await scan(client, staff, gamma_t[0]["code"]) == "valid"
    c.tickets_sold, c.checked_in = 2, 1
    assert (await client.delete(f"/events/{gamma}", headers=s.admin.headers)).status_code == 204
    c.status = "cancelled"
    c.tickets_sold, c.tickets_cancelled = 1, 1

    # Delta: nothing sold yet.
    await add_event(client, s, "Delta", capacity=7)


async def paid_events(
    client: httpx.AsyncClient,
    db: async_sessionmaker[Any],
    s: Scenario,
    alice: Actor,
    bob: Actor,
    carol: Actor,
) -> None:
    """Epsilon (EUR) and Zeta (USD): paid, partly refunded, refunded and unpaid orders."""
    _, e = await add_event(client, s, "Epsilon", capacity=20, price_cents=2500, currency="EUR")
    epsilon = s.events["Epsilon"]
    codes = await insert_order(
        db,
        user_id=alice.id,
        event=epsilon,
        ticket_statuses=["active", "cancelled"],
        order_status="paid",
        refunded_cents=2500,
    )
    await insert_order(
        db, user_id=bob.id, event=epsilon, ticket_statuses=["pending"] * 3, order_status="pending"
    )
    await insert_order(
        db,
        user_id=carol.id,
        event=epsilon,
        ticket_statuses=["cancelled"],
        order_status="refunded",
        refunded_cents=2500,
    )
    e.tickets_sold, e.tickets_held, e.tickets_cancelled = 1, 3, 2
    e.gross_cents, e.refunded_cents = 7500, 5000
    assert await scan(client, s.staff, codes[0]) == "valid"
    e.checked_in += 1
    _, z = await add_event(client, s, "Zeta", capacity=5, price_cents=1000, currency="USD")
    await insert_order(
        db, user_id=bob.id, event=s.events["Zeta"], ticket_statuses=["active"], order_status="paid"
    )
    z.tickets_sold, z.gross_cents = 1, 1000


async def money_and_mail_records(db: async_sessionmaker[Any], s: Scenario) -> None:
    """What the payments and e-mail contexts record: one of each, a failed e-mail and a failed refund.

    None of it changes the figures: revenue is read from the orders.
    """
    now = dt.datetime.now(dt.UTC)
    epsilon = s.event_id("Epsilon")
    async with db() as session:
        paid = await session.scalar(select(Order).where(Order.event_id == epsilon, Order.status == "paid"))
        pending = await session.scalar(
            select(Order).where(Order.event_id == epsilon, Order.status == "pending")
        )
        assert paid is not None
        assert pending is not None
        payment = Payment(
            order_id=paid.id,
            provider="simulated",
            provider_payment_id="sim_pay_1",
            amount_cents=paid.amount_cents,
            currency="EUR",
            status="accepted",
            refunded_cents=2500,
        )
        session.add(payment)
        await session.flush()
        session.add_all(
            [
                Refund(
                    payment_id=payment.id,
                    order_id=paid.id,
                    amount_cents=2500,
                    currency="EUR",
                    reason="ticket_cancelled",
                    status="failed",
                    attempts=8,
                    last_error="card account closed",
                ),
                Checkout(
                    order_id=pending.id,
                    provider="simulated",
                    external_id="sim_checkout_1",
                    url=f"http://127.0.0.1/payments/simulated/{pending.id}?token={CHECKOUT_SECRET}",
                    access_token=CHECKOUT_SECRET,
                    expires_at=now + dt.timedelta(minutes=15),
                ),
                ProviderEvent(
                    provider="simulated",
                    event_id="sim_evt_1",
                    event_type="payment.succeeded",
                    order_id=paid.id,
                    outcome="paid",
                ),
                OutboxMessage(
                    kind="tickets",
                    status="failed",
                    message_id="<failed-1@ticketflow.test>",
                    recipient=s.attendee.email,
                    recipient_name=s.attendee.name,
                    user_id=s.attendee.id,
                    event_id=s.event_id("Alpha"),
                    attempts=8,
                    next_attempt_at=now,
                    last_error="550 5.1.1 mailbox unavailable",
                ),
                OutboxMessage(
                    kind="event_changed",
                    status="sent",
                    message_id="<sent-1@ticketflow.test>",
                    recipient=s.attendee.email,
                    recipient_name=s.attendee.name,
                    user_id=s.attendee.id,
                    event_id=s.event_id("Beta"),
                    attempts=1,
                    next_attempt_at=now,
                    sent_at=now,
                ),
            ]
        )
        await session.commit()
