from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from tests.integration.stats.scenario import FIGURE_NAMES, Scenario
from tests.support.api import make_actor
from ticketflow.db.models.checkins import CheckIn
from ticketflow.db.models.tickets import Ticket


def figures_of(body: dict) -> dict:
    return {name: body[name] for name in FIGURE_NAMES}


async def test_overview_matches_the_independent_count(client, scenario: Scenario) -> None:
    response = await client.get("/stats", headers=scenario.admin.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    by_title = {row["title"]: row for row in body["events"]}
    assert set(by_title) == set(scenario.expected)
    for name, expected in scenario.expected.items():
        assert figures_of(by_title[name]) == expected.as_figures(), name
        assert by_title[name]["event_id"] == scenario.event_id(name)
    assert body["totals"] == scenario.totals()
    assert body["totals"]["revenue"] == [
        {"currency": "EUR", "gross_cents": 7500, "refunded_cents": 5000, "revenue_cents": 2500},
        {"currency": "USD", "gross_cents": 1000, "refunded_cents": 0, "revenue_cents": 1000},
    ]
    # Every ticket sold (and still valid) was sold today, in UTC days.
    assert sold_today(body["sales_per_day"], dt.UTC) == scenario.totals()["tickets_sold"]
    starts = [row["starts_at"] for row in body["events"]]
    assert starts == sorted(starts, reverse=True)


@pytest.mark.parametrize("name", ["Alpha", "Beta", "Gamma", "Delta", "Epsilon", "Zeta"])
async def test_event_stats_match_the_independent_count(client, scenario: Scenario, name: str) -> None:
    expected = scenario.expected[name]
    response = await client.get(f"/events/{scenario.event_id(name)}/stats", headers=scenario.admin.headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert figures_of(body["figures"]) == expected.as_figures()
    zone = ZoneInfo(scenario.events[name]["timezone"])
    assert sold_today(body["sales_per_day"], zone) == expected.tickets_sold
    slots = body["check_ins_per_15_min"]
    assert sum(slot["admitted"] for slot in slots) == expected.checked_in
    assert sum(slot["refused"] for slot in slots) == expected.scans_refused
    for slot in slots:
        starts_at = dt.datetime.fromisoformat(slot["starts_at"])
        assert starts_at.utcoffset() == dt.datetime.now(zone).utcoffset()
        assert starts_at.minute % 15 == 0
        assert starts_at.second == 0


async def test_figures_agree_with_the_tables(client, db, scenario: Scenario) -> None:
    """A second, plain count straight from the rows."""
    alpha = scenario.event_id("Alpha")
    async with db() as session:
        used = await session.scalar(
            select(func.count()).select_from(Ticket).where(Ticket.event_id == alpha, Ticket.status == "used")
        )
        refused = await session.scalar(
            select(func.count())
            .select_from(CheckIn)
            .where(CheckIn.event_id == alpha, CheckIn.result != "valid")
        )
    figures = (await client.get(f"/events/{alpha}/stats", headers=scenario.admin.headers)).json()["figures"]
    assert (figures["checked_in"], figures["scans_refused"]) == (used, refused) == (2, 3)


async def test_empty_database(client, db) -> None:
    admin = await make_actor(client, db, role="admin")
    body = (await client.get("/stats", headers=admin.headers)).json()
    assert body["events"] == []
    assert body["sales_per_day"] == []
    assert body["totals"] == {
        "events": 0,
        "capacity": 0,
        "tickets_sold": 0,
        "tickets_held": 0,
        "tickets_available": 0,
        "tickets_cancelled": 0,
        "checked_in": 0,
        "check_in_rate": 0.0,
        "scans_refused": 0,
        "duplicate_admissions": 0,
        "revenue": [],
    }


@pytest.mark.parametrize("role", ["attendee", "staff"])
async def test_only_admins_see_stats(client, db, role: str) -> None:
    actor = await make_actor(client, db, role=role)
    assert (await client.get("/stats", headers=actor.headers)).status_code == 403
    assert (await client.get("/events/1/stats", headers=actor.headers)).status_code == 403
    assert (await client.get("/stats")).status_code == 401
    assert (await client.get("/events/1/stats")).status_code == 401


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/events/999999/stats", 404),
        ("/events/0/stats", 400),
        ("/events/-1/stats", 400),
        (f"/events/{2**63}/stats", 400),
        ("/events/abc/stats", 404),
        ("/events/1.5/stats", 404),
    ],
)
async def test_bad_event_ids(client, db, path: str, status: int) -> None:
    admin = await make_actor(client, db, role="admin")
    response = await client.get(path, headers=admin.headers)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    assert "Traceback" not in response.text


async def test_stats_are_documented_in_openapi(client) -> None:
    schema = (await client.get("/docs/openapi.json")).json()
    overview = schema["paths"]["/stats"]["get"]
    event = schema["paths"]["/events/{event_id}/stats"]["get"]
    assert overview["tags"] == ["Stats"]
    assert overview["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "StatsOverview"
    )
    assert event["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("EventStats")
    assert "404" in event["responses"]
    figures = schema["components"]["schemas"]["EventFigures"]["properties"]
    assert {"capacity", "tickets_sold", "tickets_held", "tickets_available", "checked_in"} <= set(figures)
    assert figures["check_in_rate"]["maximum"] == 1


def sold_today(sales_per_day: list[dict[str, Any]], zone: dt.tzinfo) -> int:
    """The tickets of the days in `sales_per_day`, each of which must be today in `zone` (or
    yesterday, when the scenario was sold just before midnight there)."""
    now = dt.datetime.now(zone)
    days = {now.date().isoformat(), (now - dt.timedelta(minutes=10)).date().isoformat()}
    assert {row["date"] for row in sales_per_day} <= days, sales_per_day
    return sum(row["tickets"] for row in sales_per_day)
