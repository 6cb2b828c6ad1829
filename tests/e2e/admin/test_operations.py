"""E-mail outbox and money views: failures easy to find, retry through the notification service."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.integration.stats.scenario import CHECKOUT_SECRET, Scenario, seed
from tests.support.back_office import log_in
from ticketflow.db.models.outbox import OutboxMessage


@pytest.fixture
async def scenario(client, db) -> Scenario:
    scenario = await seed(client, db)
    assert (await log_in(client, scenario.admin.email, scenario.admin.password)).status_code == 302
    return scenario


async def message(db, message_id: str) -> OutboxMessage:
    async with db() as session:
        return await session.scalar(select(OutboxMessage).where(OutboxMessage.message_id == message_id))


async def test_dashboard_points_at_what_needs_a_person(client, scenario) -> None:
    page = (await client.get("/admin/dashboard")).text
    assert 'data-attention="failed_emails">1 e-mail failed</a>' in page
    assert 'data-attention="failed_refunds">1 refund failed</a>' in page
    assert "/admin/outbox-message/list?status=failed" in page


async def test_failed_emails_are_one_filter_away(client, db, scenario) -> None:
    failed = await client.get("/admin/outbox-message/list?status=failed")
    everything = await client.get("/admin/outbox-message/list?pageSize=100")

    assert failed.status_code == 200
    assert "550 5.1.1 mailbox unavailable" in failed.text
    assert 'class="badge bg-red-lt">failed<' in failed.text
    assert failed.text.count('<input type="hidden" value=') == 1
    assert everything.text.count('<input type="hidden" value=') >= 2
    found = await client.get(f"/admin/outbox-message/list?search={scenario.attendee.email}")
    assert found.text.count('<input type="hidden" value=') >= 2


async def test_retry_goes_through_the_notification_service(client, db, scenario) -> None:
    failed = await message(db, "<failed-1@ticketflow.test>")
    list_url = "http://testserver.local/admin/outbox-message/list"

    response = await client.get(
        f"/admin/outbox-message/action/retry?pks={failed.id}",
        headers={"Referer": list_url},
        follow_redirects=False,
    )

    assert response.status_code == 302
    after = await message(db, "<failed-1@ticketflow.test>")
    assert (after.status, after.attempts) == ("pending", 0)
    assert "queued again" in (await client.get("/admin/outbox-message/list")).text


async def test_retry_refuses_what_the_service_refuses(client, db, scenario) -> None:
    sent = await message(db, "<sent-1@ticketflow.test>")
    response = await client.get(
        f"/admin/outbox-message/action/retry?pks={sent.id}",
        headers={"Referer": "http://testserver.local/admin/outbox-message/list"},
    )
    assert response.status_code == 200
    assert "only failed or skipped messages can be retried" in response.text
    assert (await message(db, "<sent-1@ticketflow.test>")).status == "sent"


FORGED_OR_BAD_RETRIES = [
    ({}, "FAILED", 403),  # no sign the click came from a back office page
    ({"Sec-Fetch-Site": "cross-site"}, "FAILED", 403),
    ({"Referer": "https://evil.example/admin/"}, "FAILED", 403),
    ({"Sec-Fetch-Site": "same-origin"}, "abc", 400),
    ({"Sec-Fetch-Site": "same-origin"}, "", 400),
    ({"Sec-Fetch-Site": "same-origin"}, ",".join(["1"] * 101), 400),
    ({"Sec-Fetch-Site": "same-origin"}, "99999999999999999999999", 400),
]


async def test_retry_refuses_forged_or_bad_requests(client, db, scenario) -> None:
    failed = await message(db, "<failed-1@ticketflow.test>")
    for headers, pks, status in FORGED_OR_BAD_RETRIES:
        selection = pks.replace("FAILED", str(failed.id))

        response = await client.get(f"/admin/outbox-message/action/retry?pks={selection}", headers=headers)

        assert response.status_code == status, (headers, pks)
        assert "Traceback" not in response.text
    assert (await message(db, "<failed-1@ticketflow.test>")).status == "failed"


async def test_money_views_show_failures_and_hide_checkout_secrets(client, scenario) -> None:
    refunds = await client.get("/admin/refund/list?status=failed")
    payments = await client.get("/admin/payment/list")
    checkout = await client.get("/admin/checkout/details/1")

    assert "card account closed" in refunds.text
    assert "50.00 EUR" in payments.text  # money in its currency
    assert "sim_checkout_1" in checkout.text
    assert CHECKOUT_SECRET not in checkout.text
    for path in ("/admin/payment/create", "/admin/refund/edit/1", "/admin/checkout/create"):
        assert (await client.get(path)).status_code == 403
    assert (await client.request("DELETE", "/admin/refund/delete?pks=1")).status_code == 403


def shown(word: str, page: str) -> bool:
    """`word` is the whole text of an element (a filter's option, a badge)."""
    return re.search(rf">\s*{re.escape(word)}\s*<", page) is not None


async def test_states_labels_and_filter_options_speak_the_admins_language(client, scenario) -> None:
    english = await client.get("/admin/outbox-message/list?pageSize=100")
    assert 'class="badge bg-red-lt">failed<' in english.text
    assert shown("Failed", english.text)  # the filter's option
    assert shown("Ticket cancelled", english.text)
    admin = scenario.admin
    assert (await client.patch("/me", json={"locale": "es"}, headers=admin.headers)).status_code == 200
    assert (await log_in(client, admin.email, admin.password)).status_code == 302

    outbox = await client.get("/admin/outbox-message/list?pageSize=100")
    assert 'class="badge bg-red-lt">fallido<' in outbox.text
    assert 'class="badge bg-red-lt">failed<' not in outbox.text
    assert shown("Fallido", outbox.text)
    assert not shown("Failed", outbox.text)
    assert shown("Entradas", outbox.text)  # a kind of message
    provider = await client.get("/admin/provider-event/list")
    assert provider.status_code == 200
    assert "Recibido" in provider.text
    assert "Received" not in provider.text
    payments = await client.get("/admin/payment/list")
    assert shown("Aceptado", payments.text)  # the status filter's options
    assert shown("Rechazado", payments.text)
    tickets = await client.get("/admin/ticket/list")
    assert shown("Usada", tickets.text)
    assert not shown("Used", tickets.text)
    scans = await client.get("/admin/check-in/list")
    assert shown("Admitidas", scans.text)  # the words of the door's scan log
    assert shown("Puerta equivocada", scans.text)
