"""Short messages when a ticket is cancelled, an event moves or an event is cancelled."""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from zoneinfo import ZoneInfo

from icalendar import Calendar

from tests.support.api import buy, make_actor, make_event
from tests.support.factories import in_days
from tests.support.mail import (
    attachments,
    body,
    bought,
    calendar_event,
    outbox_rows,
    subject,
    worker_pass,
)
from ticketflow.db.models.outbox import MessageKind, OutboxStatus


def calendar_method(message: EmailMessage) -> str:
    """The METHOD of the message's calendar file, the same in the file and its MIME part."""
    (part,) = attachments(message, "text/calendar")
    method = str(Calendar.from_ical(part.get_payload(decode=True))["method"])
    assert part.get_param("method") == method
    return method


def assert_cancels(notice: EmailMessage, recipient: str, published: list[EmailMessage]) -> None:
    """`notice` carries an iTIP cancellation (RFC 5546 3.2.5) of the entry the `published` files
    published: calendars delete it rather than keep it marked cancelled."""
    organizer = "mailto:tickets@example.com"
    withdrawn = calendar_event(notice)
    assert calendar_method(notice) == "CANCEL"
    assert (str(withdrawn["organizer"]), str(withdrawn["attendee"])) == (organizer, f"mailto:{recipient}")
    assert withdrawn["organizer"].params["CN"] == "Ticket-Flow Box Office"
    for message in published:
        entry = calendar_event(message)
        assert calendar_method(message) == "PUBLISH"
        assert (str(entry["uid"]), str(entry["organizer"])) == (str(withdrawn["uid"]), organizer)
        assert "attendee" not in entry
        assert int(entry["sequence"]) < int(withdrawn["sequence"])


async def test_event_moved_then_cancelled_reaches_every_holder(client, db, smtp_server, worker) -> None:
    admin = await make_actor(client, db, role="admin")
    first = await make_actor(client, db)
    second = await make_actor(client, db)
    starts_at = in_days(10).replace(hour=18, minute=0)
    event = await make_event(
        client, admin, title="Quartet", venue="Old Hall", starts_at=starts_at, timezone="Europe/Paris"
    )
    for holder in (first, second):
        assert (await buy(client, holder, event["id"])).status_code == 201
    await worker_pass(worker)
    ticket_mail = smtp_server.messages[0].parsed()
    first_sequence = int(calendar_event(ticket_mail)["sequence"])

    moved_to = starts_at + dt.timedelta(days=1, hours=2)
    changed = await client.patch(
        f"/events/{event['id']}",
        json={"starts_at": moved_to.isoformat(), "venue": "New Hall"},
        headers=admin.headers,
    )
    assert changed.status_code == 200
    unrelated = await client.patch(f"/events/{event['id']}", json={"capacity": 50}, headers=admin.headers)
    assert unrelated.status_code == 200
    await worker_pass(worker)

    moved = smtp_server.messages[2:]
    assert sorted(m.rcpt_tos[0] for m in moved) == sorted([first.email, second.email])
    message = moved[0].parsed()
    assert subject(message) == "[Ticket-Flow] Event changed: Quartet"
    text = body(message, "plain")
    new_local = moved_to.astimezone(ZoneInfo("Europe/Paris"))
    old_local = starts_at.astimezone(ZoneInfo("Europe/Paris"))
    assert "Where:  New Hall" in text
    assert "Previous place: Old Hall" in text
    assert "Previously: " in text
    assert f"{old_local.day} {old_local:%B %Y}" in text.split("Previously: ")[1]
    assert f"{new_local.day} {new_local:%B %Y}" in text.split("Previously: ")[0]
    invitation = calendar_event(message)
    assert invitation.decoded("dtstart") == moved_to
    assert str(invitation["location"]) == "New Hall"
    assert str(invitation["uid"]) == str(calendar_event(ticket_mail)["uid"])
    assert int(invitation["sequence"]) > first_sequence

    cancelled = await client.delete(f"/events/{event['id']}", headers=admin.headers)
    assert cancelled.status_code == 204
    await worker_pass(worker)

    cancellations = smtp_server.messages[4:]
    assert sorted(m.rcpt_tos[0] for m in cancellations) == sorted([first.email, second.email])
    notice = cancellations[0].parsed()
    assert subject(notice) == "[Ticket-Flow] Event cancelled: Quartet"
    assert "has been cancelled" in body(notice, "plain")
    withdrawn = calendar_event(notice)
    assert str(withdrawn["status"]) == "CANCELLED"
    assert int(withdrawn["sequence"]) > int(invitation["sequence"])
    assert_cancels(notice, cancellations[0].rcpt_tos[0], published=[ticket_mail, message])
    kinds = [(row.kind, row.status) for row in await outbox_rows(db)]
    assert kinds.count((MessageKind.EVENT_CHANGED, OutboxStatus.SENT)) == 2
    assert kinds.count((MessageKind.EVENT_CANCELLED, OutboxStatus.SENT)) == 2
    assert len(kinds) == 6


async def test_change_queued_before_cancellation_is_skipped(client, db, smtp_server, worker) -> None:
    purchase = await bought(client, db, venue="Old Hall")
    admin, event = purchase.admin, purchase.event
    await worker_pass(worker)
    patch = await client.patch(f"/events/{event['id']}", json={"venue": "New Hall"}, headers=admin.headers)
    assert patch.status_code == 200
    assert (await client.delete(f"/events/{event['id']}", headers=admin.headers)).status_code == 204

    report = await worker_pass(worker)

    assert (report.sent, report.skipped) == (1, 1)
    assert subject(smtp_server.messages[-1].parsed()).startswith("[Ticket-Flow] Event cancelled")
    skipped = [row for row in await outbox_rows(db) if row.status == OutboxStatus.SKIPPED]
    assert [row.kind for row in skipped] == [MessageKind.EVENT_CHANGED]
    assert skipped[0].last_error == "the event was cancelled since"


async def test_cancelled_ticket_message_goes_to_the_holder_when_an_admin_cancels(
    client, db, smtp_server, worker
) -> None:
    purchase = await bought(client, db, title="Opera")
    admin, holder, (ticket,) = purchase.admin, purchase.holder, purchase.tickets
    await worker_pass(worker)

    assert (await client.post(f"/tickets/{ticket['id']}/cancel", headers=admin.headers)).status_code == 200
    await worker_pass(worker)

    notice = smtp_server.messages[-1]
    assert notice.rcpt_tos == [holder.email]
    message = notice.parsed()
    assert subject(message) == "[Ticket-Flow] Ticket cancelled: Opera"
    assert f"Your ticket #{ticket['id']} has been cancelled" in body(message, "plain")
    assert "refunded" not in body(message, "plain")  # a free ticket
    assert not list(message.iter_attachments())
