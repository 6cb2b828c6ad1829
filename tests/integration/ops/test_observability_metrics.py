"""`GET /metrics`: request counters by route template, and business figures read at scrape time."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import anyio
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from tests.support.api import buy, make_actor, make_event
from tests.support.databases import settings_for_tests as settings_for
from tests.support.mariadb import free_port
from ticketflow.app import create_app
from ticketflow.db.models.outbox import OutboxMessage
from ticketflow.lib.request_ids import REQUEST_ID_HEADER

DEPLOYMENT_GUIDE = Path(__file__).resolve().parents[3] / "docs" / "DEPLOYMENT.md"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(client: AsyncTestClient[Litestar]) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def change(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


async def test_metrics_are_public_and_cover_requests_and_business(client: AsyncTestClient[Litestar]) -> None:
    samples = await scrape(client)  # no token: public like /health

    names = {name for name, _ in samples}
    assert {
        "ticketflow_tickets",
        "ticketflow_tickets_sold",
        "ticketflow_scans_total",
        "ticketflow_outbox_messages",
        "ticketflow_outbox_oldest_pending_age_seconds",
        "ticketflow_database_up",
    } <= names
    assert value(samples, "ticketflow_database_up") == 1
    for result in ("valid", "already_used", "invalid"):
        assert ("ticketflow_scans_total", (("result", result),)) in samples
    for status in ("pending", "failed"):
        assert ("ticketflow_outbox_messages", (("status", status),)) in samples


async def test_requests_are_counted_by_route_template_method_and_status(
    client: AsyncTestClient[Litestar],
) -> None:
    for event_id in (987654, 987655):
        assert (await client.get(f"/events/{event_id}")).status_code == 404
    assert (await client.get("/events")).status_code == 200

    samples = await scrape(client)

    missing = {"method": "GET", "route": "/events/{event_id}", "status": "404"}
    assert value(samples, "ticketflow_http_requests_total", **missing) == 2
    assert value(samples, "ticketflow_http_request_duration_seconds_count", **missing) == 2
    assert value(samples, "ticketflow_http_request_duration_seconds_sum", **missing) > 0
    listed = {"method": "GET", "route": "/events", "status": "200"}
    assert value(samples, "ticketflow_http_requests_total", **listed) == 1
    routes = {dict(labels).get("route") for name, labels in samples if name.startswith("ticketflow_http")}
    assert not any(route and re.search(r"\d", route) for route in routes), "ids must not become labels"


async def test_business_figures_move_after_a_purchase_and_scans(
    client: AsyncTestClient[Litestar], db: Any
) -> None:
    admin = await make_actor(client, db, role="admin")
    staff = await make_actor(client, db, role="staff")
    holder = await make_actor(client, db)
    event = await make_event(client, admin)
    before = await scrape(client)
    async with db() as session:
        queued_before = await session.scalar(select(func.count()).select_from(OutboxMessage))

    bought = await buy(client, holder, event["id"], quantity=3)
    assert bought.status_code == 201
    after_purchase = await scrape(client)

    assert change(before, after_purchase, "ticketflow_tickets_sold") == 3
    assert change(before, after_purchase, "ticketflow_tickets", status="active") == 3
    async with db() as session:
        queued = await session.scalar(select(func.count()).select_from(OutboxMessage)) - queued_before
    assert queued >= 1, "the ticket e-mail is queued with the purchase"
    assert change(before, after_purchase, "ticketflow_outbox_messages", status="pending") == queued
    assert value(after_purchase, "ticketflow_outbox_oldest_pending_age_seconds") >= 0

    code = bought.json()["tickets"][0]["code"]
    assert (await client.post(f"/tickets/{code}/validate", headers=staff.headers)).status_code == 200
    assert (await client.post(f"/tickets/{code}/validate", headers=staff.headers)).status_code == 409
    unknown = await client.post("/tickets/TF1-not-a-real-code/validate", headers=staff.headers)
    assert unknown.status_code == 404
    after_scans = await scrape(client)

    assert change(after_purchase, after_scans, "ticketflow_scans_total", result="valid") == 1
    assert change(after_purchase, after_scans, "ticketflow_scans_total", result="already_used") == 1
    assert change(after_purchase, after_scans, "ticketflow_scans_total", result="invalid") == 1
    assert change(after_purchase, after_scans, "ticketflow_tickets", status="used") == 1
    assert change(after_purchase, after_scans, "ticketflow_tickets_sold") == 0  # used is still sold
    scan = {"method": "POST", "route": "/tickets/{qr_code}/validate"}
    assert value(after_scans, "ticketflow_http_requests_total", **scan, status="200") == 1
    assert value(after_scans, "ticketflow_http_requests_total", **scan, status="409") == 1
    assert value(after_scans, "ticketflow_http_requests_total", **scan, status="404") == 1


async def test_metrics_answer_when_the_database_does_not() -> None:
    unreachable = f"mysql+asyncmy://ticketflow:secret@127.0.0.1:{free_port()}/ticketflow"
    app = create_app(settings_for(unreachable))
    async with AsyncTestClient(app=app) as client:
        assert (await client.get("/ready")).status_code == 503
        samples = await scrape(client)

    assert value(samples, "ticketflow_database_up") == 0
    assert not any(name.startswith("ticketflow_tickets") for name, _ in samples)
    ready = {"method": "GET", "route": "/ready", "status": "503"}
    assert value(samples, "ticketflow_http_requests_total", **ready) == 1


@pytest.mark.parametrize(
    "given",
    ["", " ", "a" * 129, "has space", "ünïcode", "semi;colon", "<script>", "-starts-with-dash"],
)
async def test_insane_request_ids_are_replaced(client: AsyncTestClient[Litestar], given: str) -> None:
    response = await client.get("/health", headers={"X-Request-ID": given.encode()})

    assert response.status_code == 200
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])


@pytest.mark.parametrize(
    "given", ["abc-123", "a" * 128, "0f8fad5b-d9cb-469f-a165-70867728950e", "Root=1-67891233-abcdef"]
)
async def test_sane_request_ids_are_echoed(client: AsyncTestClient[Litestar], given: str) -> None:
    response = await client.get("/health", headers={"X-Request-ID": given})

    assert response.headers["X-Request-ID"] == given


async def test_each_request_gets_its_own_id(client: AsyncTestClient[Litestar]) -> None:
    ids = {(await client.get("/health")).headers["X-Request-ID"] for _ in range(5)}

    assert len(ids) == 5


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        (None, 401),
        ("Bearer wrong-token", 401),
        ("Basic c2NyYXBlcjpzM2NyZXQtbWV0cmljcy10b2tlbg==", 401),
        ("Bearer s3cret-metrics-token", 200),
        ("bearer s3cret-metrics-token", 200),
    ],
)
async def test_a_metrics_token_closes_the_endpoint(
    database_url: str, authorization: str | None, status: int
) -> None:
    app = create_app(settings_for(database_url, metrics_token="s3cret-metrics-token"))
    headers = {"Authorization": authorization} if authorization else {}
    async with AsyncTestClient(app=app) as client:
        response = await client.get("/metrics", headers=headers)
        health = await client.get("/health")

    assert response.status_code == status
    assert health.status_code == 200  # the token guards /metrics only
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert "ticketflow_" not in response.text
        assert response.json()["status_code"] == 401
    else:
        assert "ticketflow_tickets_sold" in response.text


async def test_every_metric_is_documented(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/metrics")
    families = {family.name for family in text_string_to_metric_families(response.text)}
    guide = await anyio.Path(DEPLOYMENT_GUIDE).read_text()

    ours = {name for name in families if name.startswith("ticketflow_")}
    assert len(ours) >= 8
    for name in ours:
        documented = name + "_total" if f"{name}_total" in response.text else name
        assert f"`{documented}`" in guide, f"{documented} is not described in docs/DEPLOYMENT.md"


async def test_refused_and_unrouted_requests_are_counted_and_carry_their_id(
    client: AsyncTestClient[Litestar],
) -> None:
    """The observability wraps the whole application: the authentication's 401s, unknown paths
    and wrong methods are counted, logged and answered with their request id like any other."""
    refused = await client.get("/me", headers={"X-Request-ID": "refused-1"})
    unknown = await client.get("/no/such/page/42", headers={"X-Request-ID": "unknown-1"})
    wrong_method = await client.delete("/health", headers={"X-Request-ID": "method-1"})
    samples = await scrape(client)
    requests = "ticketflow_http_requests_total"

    assert refused.status_code == 401
    assert refused.headers[REQUEST_ID_HEADER] == "refused-1"
    assert value(samples, requests, method="GET", route="/me", status="401") == 1
    assert (unknown.status_code, unknown.headers[REQUEST_ID_HEADER]) == (404, "unknown-1")
    assert (wrong_method.status_code, wrong_method.headers[REQUEST_ID_HEADER]) == (405, "method-1")
    # Unrouted requests share one series, so random paths cannot grow the metrics without end.
    assert (
        value(samples, "ticketflow_http_requests_total", method="GET", route="unmatched", status="404") == 1
    )
    assert (
        value(samples, "ticketflow_http_requests_total", method="DELETE", route="unmatched", status="405")
        == 1
    )
    assert not any("no/such/page" in str(labels) for _, labels in samples)
