"""The dashboard shows the same figures as the stats API and as the test's own count."""

from __future__ import annotations

import csv
import io
import re

from sqlalchemy import select

from tests.integration.stats.scenario import Scenario, insert_order, seed
from tests.support.api import buy, make_actor, make_event
from tests.support.back_office import dashboard_rows, log_in, page_figures
from ticketflow.db.models.tickets import Ticket

PAGE_FIGURES = (
    "capacity",
    "tickets_sold",
    "tickets_held",
    "tickets_available",
    "tickets_cancelled",
    "checked_in",
    "scans_refused",
)
ROW_FIGURES = (
    "capacity",
    "tickets_sold",
    "tickets_held",
    "tickets_available",
    "tickets_cancelled",
    "revenue_cents",
    "checked_in",
    "check_in_rate",
    "duplicate_admissions",
)


async def logged_in_scenario(client, db) -> Scenario:
    scenario = await seed(client, db)
    assert (await log_in(client, scenario.admin.email, scenario.admin.password)).status_code == 302
    return scenario


async def test_dashboard_figures_match_the_count_and_the_api(client, db) -> None:
    scenario = await logged_in_scenario(client, db)

    page = await client.get("/admin/dashboard")
    api = (await client.get("/stats", headers=scenario.admin.headers)).json()

    assert page.status_code == 200
    rows = dashboard_rows(page.text)
    api_rows = {row["event_id"]: row for row in api["events"]}
    for name, expected in scenario.expected.items():
        event_id = scenario.event_id(name)
        wanted = {figure: getattr(expected, figure) for figure in ROW_FIGURES}
        assert rows[event_id] == wanted, name
        assert {figure: api_rows[event_id][figure] for figure in ROW_FIGURES} == wanted, name
    totals = scenario.totals()
    for figure in (
        "events",
        "capacity",
        "tickets_sold",
        "tickets_held",
        "tickets_available",
        "checked_in",
        "duplicate_admissions",
    ):
        assert re.search(rf'data-total="{figure}">{totals[figure]}<', page.text), figure
    assert 'data-currency="EUR" data-cents="2500"' in page.text
    assert 'data-currency="USD" data-cents="1000"' in page.text
    assert f'data-total="check_in_rate">{totals["check_in_rate"] * 100:.1f} %<' in page.text


async def test_event_page_figures_and_charts(client, db) -> None:
    scenario = await logged_in_scenario(client, db)
    for name, expected in scenario.expected.items():
        page = await client.get(f"/admin/dashboard/events/{scenario.event_id(name)}")
        assert page.status_code == 200
        figures = page_figures(page.text)
        assert {f: figures[f] for f in PAGE_FIGURES} == {f: getattr(expected, f) for f in PAGE_FIGURES}, name
        assert figures["check_in_rate"] == f"{expected.check_in_rate * 100:.1f} %"
        assert figures["revenue_cents"] == f"{expected.revenue_cents / 100:,.2f} {expected.currency}"
        chart_totals = [
            int(n) for n in re.findall(r'class="tf-bar" data-label="[^"]*" data-total="(\d+)"', page.text)
        ]
        assert sum(chart_totals) == expected.tickets_sold + expected.checked_in + expected.scans_refused, name
        if expected.tickets_sold == 0:
            assert "No tickets sold yet." in page.text
    alpha = await client.get(f"/admin/dashboard/events/{scenario.event_id('Alpha')}")
    assert alpha.text.count("<svg") == 2
    assert "<script src=" not in alpha.text.split("</main>")[0]


async def test_csv_export_of_tickets(client, db) -> None:
    scenario = await logged_in_scenario(client, db)
    alpha = scenario.event_id("Alpha")

    response = await client.get(f"/admin/dashboard/events/{alpha}/tickets.csv")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == f'attachment; filename="event-{alpha}-tickets.csv"'
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert len(rows) == 6
    statuses = sorted(row["status"] for row in rows)
    assert statuses == ["active"] * 3 + ["cancelled"] + ["used"] * 2
    carol = [row for row in rows if "HYPERLINK" in row["holder_name"]]
    assert carol[0]["holder_name"] == '\'=HYPERLINK("http://evil.example")'  # stays text in a spreadsheet
    assert "tf1." not in response.text  # no admission codes in a file that travels
    assert all(row["created_at"].endswith("+00:00") for row in rows)


async def test_csv_export_of_check_ins(client, db) -> None:
    scenario = await logged_in_scenario(client, db)
    alpha = scenario.event_id("Alpha")

    response = await client.get(f"/admin/dashboard/events/{alpha}/check-ins.csv")

    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["result"] for row in rows] == ["valid", "valid", "already_used", "invalid", "invalid"]
    assert [row["reason"] for row in rows][3:] == ["cancelled", "wrong_event"]
    assert {row["scanned_by"] for row in rows} == {scenario.staff.email}
    assert rows[0]["holder_email"] == scenario.attendee.email


async def test_large_export_streams_every_row(client, db) -> None:
    """More rows than one page of the keyset pagination."""
    admin = await make_actor(client, db, role="admin")
    buyer = await make_actor(client, db)
    event = await make_event(client, admin, capacity=3000)
    await insert_order(
        db, user_id=buyer.id, event=event, ticket_statuses=["active"] * 2500, order_status="paid"
    )
    await log_in(client, admin.email, admin.password)

    response = await client.get(f"/admin/dashboard/events/{event['id']}/tickets.csv")

    ids = [int(row["ticket_id"]) for row in csv.DictReader(io.StringIO(response.text))]
    assert len(ids) == len(set(ids)) == 2500
    assert ids == sorted(ids)


async def test_exports_need_a_login(client, db) -> None:
    scenario = await seed(client, db)
    alpha = scenario.event_id("Alpha")
    for path in (f"/admin/dashboard/events/{alpha}/tickets.csv", "/admin/dashboard"):
        response = await client.get(path, follow_redirects=False)
        assert response.status_code == 302
        assert response.headers["location"].endswith("/admin/login")


async def test_pages_carry_security_headers_and_only_local_assets(back_office) -> None:
    page = await back_office.get("/admin/dashboard")

    assert page.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assets = [
        url
        for url in re.findall(r'(?:src|href)="([^"]*)"', page.text)
        if not url.startswith(("#", "data:"))  # in-page anchors, the inline favicon
    ]
    assert assets
    for url in assets:
        assert url.startswith(("http://testserver.local/admin/", "/admin/")), url
    for url in [u for u in assets if "/statics/" in u]:
        assert (await back_office.get(url)).status_code == 200, url
    login = await back_office.get("/admin/login")
    assert not re.search(r'(?:src|href)="https?://(?!testserver\.local)', login.text)


async def test_exports_name_the_attendee_as_the_door_does(client, db) -> None:
    """holder_name is the ticket's attendee when one is named, else the holder's name."""
    admin = await make_actor(client, db, role="admin")
    buyer = await make_actor(client, db, name="Ada Lovelace")
    event = await make_event(client, admin)
    bought = await buy(client, buyer, event["id"], quantity=2)
    assert bought.status_code == 201, bought.text
    named, unnamed = bought.json()["tickets"]
    renamed = await client.patch(
        f"/tickets/{named['id']}", json={"attendee_name": "Grace Hopper"}, headers=buyer.headers
    )
    assert renamed.status_code == 200, renamed.text
    admitted = await client.post(
        f"/tickets/{named['code']}/validate", json={"event_id": event["id"]}, headers=admin.headers
    )
    assert admitted.json()["ticket"]["holder_name"] == "Grace Hopper"  # the door's rule
    async with db() as session:
        assert await session.scalar(select(Ticket.attendee_name).where(Ticket.id == named["id"])) == (
            "Grace Hopper"
        )
    await log_in(client, admin.email, admin.password)

    tickets = await client.get(f"/admin/dashboard/events/{event['id']}/tickets.csv")
    check_ins = await client.get(f"/admin/dashboard/events/{event['id']}/check-ins.csv")

    names = {int(row["ticket_id"]): row for row in csv.DictReader(io.StringIO(tickets.text))}
    assert names[named["id"]]["holder_name"] == "Grace Hopper"
    assert names[unnamed["id"]]["holder_name"] == "Ada Lovelace"
    assert {row["holder_email"] for row in names.values()} == {buyer.email}
    [scan] = list(csv.DictReader(io.StringIO(check_ins.text)))
    assert (scan["ticket_id"], scan["holder_name"], scan["holder_email"]) == (
        str(named["id"]),
        "Grace Hopper",
        buyer.email,
    )
