"""Sales per day and scans per 15 minutes: grouped by the database, shown in the venue's zone."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from tests.integration.stats.scenario import insert_order
from tests.support.api import make_actor, make_event
from ticketflow.admin.charts import check_in_bars
from ticketflow.db.models.checkins import CheckIn
from ticketflow.domain.stats.schemas import CheckInSlot

UTC = dt.UTC


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


async def test_scans_per_15_minutes_in_a_half_hour_zone(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    staff = await make_actor(client, db, role="staff")
    holder = await make_actor(client, db)
    event = await make_event(client, admin, timezone="Asia/Kolkata", capacity=50)
    other = await make_event(client, admin, capacity=5)
    codes = await insert_order(
        db, user_id=holder.id, event=event, ticket_statuses=["active"] * 5, order_status="paid"
    )
    scans = [  # (UTC time, result): Kolkata is UTC+05:30
        ("2031-03-01 14:00:00", "valid"),  # 19:30 local
        ("2031-03-01 14:07:00", "valid"),  # 19:37
        ("2031-03-01 14:14:59.999", "already_used"),  # 19:44:59
        ("2031-03-01 14:15:00", "valid"),  # 19:45
        ("2031-03-01 14:44:00", "invalid"),  # 20:14
        ("2031-03-01 15:01:00", "valid"),  # 20:31
    ]
    async with db() as session:
        for index, (scanned_at, result) in enumerate(scans):
            session.add(
                CheckIn(
                    ticket_id=None,
                    event_id=event["id"],
                    scanned_code=codes[index % len(codes)],
                    result=result,
                    reason="cancelled" if result == "invalid" else None,
                    scanned_by_id=staff.id,
                    scanned_at=at(scanned_at),
                )
            )
        # A scan of another event's ticket is not this event's.
        session.add(
            CheckIn(
                event_id=other["id"], scanned_code="x", result="valid", scanned_at=at("2031-03-01 14:00:00")
            )
        )
        await session.commit()

    body = (await client.get(f"/events/{event['id']}/stats", headers=admin.headers)).json()

    assert body["check_ins_per_15_min"] == [
        {"starts_at": "2031-03-01T19:30:00+05:30", "admitted": 2, "refused": 1},
        {"starts_at": "2031-03-01T19:45:00+05:30", "admitted": 1, "refused": 0},
        {"starts_at": "2031-03-01T20:00:00+05:30", "admitted": 0, "refused": 1},
        {"starts_at": "2031-03-01T20:30:00+05:30", "admitted": 1, "refused": 0},
    ]


async def test_sales_per_day_follow_the_payment_time_and_the_zone(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    buyer = await make_actor(client, db)
    event = await make_event(client, admin, timezone="Europe/Paris", capacity=50, price_cents=1500)
    sales = [  # Paris is UTC+01:00 in early March.
        (["active"], "2031-03-01 22:30:00"),  # 23:30 on the 1st in Paris
        (["active", "used", "cancelled"], "2031-03-01 23:30:00"),  # 00:30 on the 2nd in Paris
        (["active"], "2031-03-02 10:00:00"),
    ]
    for statuses, paid_at in sales:
        await insert_order(
            db,
            user_id=buyer.id,
            event=event,
            ticket_statuses=statuses,
            order_status="paid",
            paid_at=at(paid_at),
        )
    await insert_order(
        db, user_id=buyer.id, event=event, ticket_statuses=["pending"] * 2, order_status="pending"
    )
    event_body = (await client.get(f"/events/{event['id']}/stats", headers=admin.headers)).json()
    overview = (await client.get("/stats", headers=admin.headers)).json()

    assert event_body["sales_per_day"] == [
        {"date": "2031-03-01", "tickets": 1},
        {"date": "2031-03-02", "tickets": 3},
    ]
    assert overview["sales_per_day"] == [  # UTC days
        {"date": "2031-03-01", "tickets": 3},
        {"date": "2031-03-02", "tickets": 1},
    ]


def test_scan_chart_keeps_every_slot_across_a_dst_change() -> None:
    """Paris falls back at 03:00: the hour 02:00-03:00 local happens twice, each slot is its own bar."""
    paris = ZoneInfo("Europe/Paris")
    first = at("2031-10-26 00:00:00")  # 02:00 summer time
    slots = [
        CheckInSlot(starts_at=(first + n * dt.timedelta(minutes=15)).astimezone(paris), admitted=1, refused=0)
        for n in range(0, 9, 2)
    ]

    bars = check_in_bars(slots)

    assert [bar.label for bar in bars] == ["02:00", "02:15", "02:30", "02:45"] * 2 + ["03:00"]
    assert [bar.values[0] for bar in bars] == [1, 0] * 4 + [1]
