"""The embedded default: messages written as `.eml` files, and the worker inside the server."""

from __future__ import annotations

import asyncio
import email
import email.policy
from pathlib import Path

from litestar.testing import AsyncTestClient

from tests.support.databases import settings_for_tests
from tests.support.mail import body, bought, qr_codes_inline, subject, worker_pass
from ticketflow.app import create_app
from ticketflow.settings import Settings


def read_eml(path: Path) -> email.message.EmailMessage:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


async def test_file_transport_writes_a_readable_eml(client, db, settings, worker, tmp_path) -> None:
    purchase = await bought(client, db, quantity=2, holder_name="Grace Hopper", title="Compilers Live")
    holder, tickets = purchase.holder, purchase.tickets
    mail_dir = tmp_path / "outgoing"
    worker.settings = settings.with_overrides(mail_transport="file", mail_dir=str(mail_dir))

    report = await worker_pass(worker)
    again = await worker_pass(worker)

    assert (report.sent, again.claimed) == (1, 0)
    (path,) = mail_dir.iterdir()
    assert path.name.startswith("tickets-")
    assert path.suffix == ".eml"
    raw = path.read_bytes()
    assert b"\r\n" in raw  # RFC 5322 line ends
    message = read_eml(path)
    assert message["To"].addresses[0].addr_spec == holder.email
    assert subject(message) == "[Ticket-Flow] Your 2 tickets for Compilers Live"
    assert "Hello Grace Hopper," in body(message, "plain")
    assert set(qr_codes_inline(message).values()) == {t["code"] for t in tickets}
    assert not list(mail_dir.glob("*.tmp"))


async def test_the_server_delivers_in_process_in_development(database_url: str, db, tmp_path: Path) -> None:
    """`ticketflow run` alone is enough: the worker loop runs inside the server process."""
    mail_dir = tmp_path / "mail"
    settings: Settings = settings_for_tests(
        database_url, worker_in_process=True, worker_poll_seconds=0.05, mail_dir=str(mail_dir)
    )
    assert settings.mail_transport == "file"
    async with AsyncTestClient(app=create_app(settings)) as client:
        holder = (await bought(client, db)).holder
        for _ in range(200):
            if list(mail_dir.glob("*.eml")):
                break
            await asyncio.sleep(0.05)
    (path,) = mail_dir.glob("*.eml")
    assert read_eml(path)["To"].addresses[0].addr_spec == holder.email
