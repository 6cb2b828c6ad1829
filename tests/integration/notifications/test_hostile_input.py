"""Names and titles with HTML, non-Latin scripts and header-injection attempts."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from tests.support.factories import user_body
from tests.support.mail import (
    body,
    bought,
    calendar_event,
    outbox_rows,
    subject,
    worker_pass,
)
from ticketflow.db.models.events import Event
from ticketflow.db.models.outbox import OutboxStatus
from ticketflow.db.models.users import User

HTML_NAME = '<script>alert("pwned")</script> Zoë & Ōtsuka'
HTML_TITLE = '<img src=x onerror=alert(1)> Jazz & "Blues" Night'
NON_LATIN_NAME = "山田 太郎 Ωμέγα Иван"
NON_LATIN_TITLE = "東京 コンサート — Концерт ✨"


async def test_html_in_names_and_titles_is_shown_not_run(client, db, smtp_server, worker) -> None:
    holder = (
        await bought(client, db, holder_name=HTML_NAME, title=HTML_TITLE, venue="<b>Main</b> stage")
    ).holder

    await worker_pass(worker)

    message = smtp_server.messages[0].parsed()
    html = body(message, "html")
    assert "<script>" not in html
    assert "<img src=x" not in html
    assert "<b>Main</b>" not in html
    assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt; Zoë &amp; Ōtsuka" in html
    assert "&lt;img src=x onerror=alert(1)&gt; Jazz &amp; &#34;Blues&#34; Night" in html
    assert "&lt;b&gt;Main&lt;/b&gt; stage" in html
    text = body(message, "plain")
    assert f"Hello {HTML_NAME}," in text  # plain text shows the name exactly as typed
    assert HTML_TITLE in subject(message)
    assert smtp_server.messages[0].header("To") == f"{HTML_NAME} <{holder.email}>"


async def test_non_latin_scripts_survive_headers_bodies_and_calendar(client, db, smtp_server, worker) -> None:
    purchase = await bought(
        client, db, holder_name=NON_LATIN_NAME, title=NON_LATIN_TITLE, venue="Зал «Россия», Москва"
    )
    holder = purchase.holder

    await worker_pass(worker)

    raw = smtp_server.messages[0].content
    assert all(byte < 128 for byte in raw)  # 7-bit clean on the wire: any relay accepts it
    message = smtp_server.messages[0].parsed()
    assert subject(message) == f"[Ticket-Flow] Your ticket for {NON_LATIN_TITLE}"
    assert smtp_server.messages[0].header("To") == f"{NON_LATIN_NAME} <{holder.email}>"
    for part in ("plain", "html"):
        content = body(message, part)
        assert NON_LATIN_NAME in content
        assert NON_LATIN_TITLE in content
        assert "Зал «Россия», Москва" in content
    invitation = calendar_event(message)
    assert str(invitation["summary"]) == NON_LATIN_TITLE
    assert str(invitation["location"]) == "Зал «Россия», Москва"


@pytest.mark.parametrize(
    "name", ["Eve\r\nBcc: victim@example.com", "Eve\nBcc: victim@example.com", "Eve\rX: y", "\r\n"]
)
async def test_the_api_refuses_line_breaks_in_names(client, db, name) -> None:
    body = user_body(name=name)
    response = await client.post("/register", json=body)
    assert response.status_code in (400, 422)
    async with db() as session:
        assert await session.scalar(select(User).where(User.email == body["email"].lower())) is None


async def test_header_injection_from_stored_data_is_impossible(client, db, smtp_server, worker) -> None:
    """Data that reached the database another way (an import, the back office) is defused too."""
    purchase = await bought(client, db)
    holder, event = purchase.holder, purchase.event
    async with db() as session:
        await session.execute(
            update(User)
            .where(User.id == holder.id)
            .values(name="Eve\x00\r\nBcc: victim@example.com\r\n\r\n<h1>injected body</h1>")
        )
        await session.execute(
            update(Event)
            .where(Event.id == event["id"])
            .values(title="Gig\r\nBcc: victim@example.com\nX-Injected: yes\u2028Reply-To: a@b.c")
        )
        await session.commit()

    report = await worker_pass(worker)

    assert report.sent == 1
    (received,) = smtp_server.messages
    assert received.rcpt_tos == [holder.email]
    message = received.parsed()
    assert message["Bcc"] is None
    assert message["X-Injected"] is None
    assert message["Reply-To"] is None
    assert "victim@example.com" not in str(message["To"].addresses[0].addr_spec)
    assert [a.addr_spec for a in message["To"].addresses] == [holder.email]
    assert subject(message) == (
        "[Ticket-Flow] Your ticket for Gig Bcc: victim@example.com X-Injected: yes Reply-To: a@b.c"
    )
    headers = received.content.split(b"\r\n\r\n", 1)[0].decode()
    assert not any(
        line.lower().startswith(("bcc:", "x-injected:", "reply-to:")) for line in headers.split("\r\n")
    )
    assert "<h1>injected body</h1>" not in body(message, "html")


async def test_an_unusable_stored_address_fails_without_retrying(client, db, smtp_server, worker) -> None:
    holder = (await bought(client, db)).holder
    async with db() as session:
        await session.execute(update(User).where(User.id == holder.id).values(email="x"))
        await session.commit()
    (row,) = await outbox_rows(db)
    async with db() as session:
        await session.execute(
            update(type(row)).where(type(row).id == row.id).values(recipient="a@b.c>\r\nBcc: v@example.com")
        )
        await session.commit()

    report = await worker_pass(worker)

    assert report.failed == 1
    assert smtp_server.messages == []
    (row,) = await outbox_rows(db)
    assert row.status == OutboxStatus.FAILED
    assert row.attempts == 1
    assert "InvalidAddress" in (row.last_error or "")
