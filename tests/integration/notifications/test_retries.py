"""Failures: the mail server down then up, attempts used up, a worker dying mid-send, a refusal."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.support.api import buy, make_actor, make_event
from tests.support.mail import bought, delivery_for, outbox_rows, subject, worker_pass
from ticketflow.db.base import utc_now
from ticketflow.db.models.outbox import OutboxStatus
from ticketflow.domain.notifications.delivery import Outcome


async def test_smtp_down_then_up_loses_nothing_and_sends_once(client, db, smtp_server, worker) -> None:
    purchase = await bought(client, db)
    holder, event = purchase.holder, purchase.event
    smtp_server.stop()

    failed = await worker_pass(worker)

    assert (failed.claimed, failed.retry, failed.sent) == (1, 1, 0)
    (row,) = await outbox_rows(db)
    assert row.status == OutboxStatus.PENDING
    assert row.attempts == 1
    assert "Connect" in (row.last_error or "") or "refused" in (row.last_error or "")
    base = worker.settings.outbox_retry_base_seconds
    assert row.next_attempt_at >= utc_now() + dt.timedelta(seconds=base / 2 - 5)
    assert (await worker_pass(worker)).claimed == 0  # not due yet: backing off

    second = await worker_pass(worker, now=row.next_attempt_at + dt.timedelta(seconds=1))
    (row,) = await outbox_rows(db)
    assert (second.retry, row.attempts) == (1, 2)
    assert row.next_attempt_at - utc_now() > dt.timedelta(seconds=base * 2 / 2 - 5)  # grew

    smtp_server.start()
    later = row.next_attempt_at + dt.timedelta(seconds=1)
    delivered = await worker_pass(worker, now=later)
    again = await worker_pass(worker, now=later + dt.timedelta(days=1))

    assert delivered.sent == 1
    assert again.claimed == 0
    (received,) = smtp_server.messages
    assert received.rcpt_tos == [holder.email]
    assert event["title"] in subject(received.parsed())
    (row,) = await outbox_rows(db)
    assert row.status == OutboxStatus.SENT
    assert row.attempts == 3
    assert row.last_error is None


async def test_gives_up_after_max_attempts_then_admin_retries(client, db, smtp_server, worker) -> None:
    purchase = await bought(client, db)
    admin, holder = purchase.admin, purchase.holder
    smtp_server.stop()
    moment = utc_now()
    for _ in range(3):
        await worker_pass(worker, now=moment, outbox_max_attempts=3)
        moment += dt.timedelta(days=1)

    (row,) = await outbox_rows(db)
    assert row.status == OutboxStatus.FAILED
    assert row.attempts == 3
    assert row.last_error
    assert (await worker_pass(worker, now=moment, outbox_max_attempts=3)).claimed == 0

    listed = await client.get("/outbox", params={"status": "failed"}, headers=admin.headers)
    assert listed.status_code == 200
    assert [(m["id"], m["recipient"], m["attempts"]) for m in listed.json()["items"]] == [
        (row.id, holder.email, 3)
    ]
    assert (await client.get("/outbox", headers=holder.headers)).status_code == 403

    retried = await client.post(f"/outbox/{row.id}/retry", headers=admin.headers)
    assert retried.status_code == 200
    assert (retried.json()["status"], retried.json()["attempts"]) == ("pending", 0)
    smtp_server.start()
    assert (await worker_pass(worker, outbox_max_attempts=3)).sent == 1
    assert len(smtp_server.messages) == 1
    again = await client.post(f"/outbox/{row.id}/retry", headers=admin.headers)
    assert again.status_code == 409
    assert (await client.post("/outbox/999999/retry", headers=admin.headers)).status_code == 404
    assert (await client.post(f"/outbox/{row.id}/retry", headers=holder.headers)).status_code == 403


async def test_a_stuck_claim_is_taken_over_after_the_timeout(client, db, smtp_server, worker) -> None:
    await bought(client, db)
    dead_worker = delivery_for(worker)
    claimed_at = utc_now()
    assert len(await dead_worker.claim("dead-worker:1", claimed_at)) == 1  # ... and then it died

    assert (await worker_pass(worker)).claimed == 0  # the claim still holds
    timeout = dt.timedelta(seconds=worker.settings.outbox_claim_timeout_seconds)
    assert (await worker_pass(worker, now=claimed_at + timeout - dt.timedelta(seconds=1))).claimed == 0
    report = await worker_pass(worker, now=claimed_at + timeout + dt.timedelta(seconds=1))

    assert report.sent == 1
    assert len(smtp_server.messages) == 1
    (row,) = await outbox_rows(db)
    assert (row.status, row.attempts) == (OutboxStatus.SENT, 2)
    assert row.claimed_by != "dead-worker:1"


async def test_a_claim_interrupted_on_the_last_attempt_fails(client, db, smtp_server, worker) -> None:
    await bought(client, db)
    claimed_at = utc_now()
    assert await delivery_for(worker, outbox_max_attempts=1).claim("dead-worker:2", claimed_at)
    timeout = dt.timedelta(seconds=worker.settings.outbox_claim_timeout_seconds + 1)

    report = await worker_pass(worker, now=claimed_at + timeout, outbox_max_attempts=1)

    assert report.failed == 1
    assert smtp_server.messages == []
    (row,) = await outbox_rows(db)
    assert row.status == OutboxStatus.FAILED
    assert "interrupted" in (row.last_error or "")


async def test_a_refused_recipient_fails_at_once(client, db, smtp_server, worker) -> None:
    admin = await make_actor(client, db, role="admin")
    gone = await make_actor(client, db)
    present = await make_actor(client, db)
    event = await make_event(client, admin)
    smtp_server.inbox.refuse.add(gone.email)
    for holder in (gone, present):
        assert (await buy(client, holder, event["id"])).status_code == 201

    report = await worker_pass(worker)

    assert (report.failed, report.sent) == (1, 1)
    assert [m.rcpt_tos for m in smtp_server.messages] == [[present.email]]
    rows = {row.recipient: row for row in await outbox_rows(db)}
    assert rows[gone.email].status == OutboxStatus.FAILED
    assert rows[gone.email].attempts == 1
    assert "550" in (rows[gone.email].last_error or "")
    assert rows[present.email].status == OutboxStatus.SENT


async def test_a_message_refused_for_good_fails_at_once(client, db, smtp_server, worker) -> None:
    """A 5xx reply to DATA (552: too big, 554: refused as spam) would come again: the message fails
    after one attempt, the reply kept as its error, instead of being retried for hours."""
    await bought(client, db)
    smtp_server.inbox.data_reply = "552 5.3.4 Message size exceeds fixed maximum message size"

    report = await worker_pass(worker)
    later = await worker_pass(worker, now=utc_now() + dt.timedelta(days=1))

    assert (report.claimed, report.failed, report.retry) == (1, 1, 0)
    assert later.claimed == 0
    assert smtp_server.messages == []
    (row,) = await outbox_rows(db)
    assert (row.status, row.attempts) == (OutboxStatus.FAILED, 1)
    assert "552" in (row.last_error or "")
    assert "Message size exceeds" in (row.last_error or "")


async def test_a_message_refused_for_now_is_retried(client, db, smtp_server, worker) -> None:
    """A 4xx reply to DATA (451: local error, greylisting) is temporary: the message waits and is
    sent once the server takes it."""
    await bought(client, db)
    smtp_server.inbox.data_reply = "451 4.3.0 Try again later"

    refused = await worker_pass(worker)

    assert (refused.failed, refused.retry) == (0, 1)
    (row,) = await outbox_rows(db)
    assert (row.status, row.attempts) == (OutboxStatus.PENDING, 1)
    assert "451" in (row.last_error or "")
    smtp_server.inbox.data_reply = None
    delivered = await worker_pass(worker, now=row.next_attempt_at + dt.timedelta(seconds=1))
    assert delivered.sent == 1
    assert len(smtp_server.messages) == 1
    (row,) = await outbox_rows(db)
    assert (row.status, row.attempts, row.last_error) == (OutboxStatus.SENT, 2, None)


@pytest.mark.parametrize("status", ["nonsense", "SENT"])
async def test_outbox_filter_rejects_unknown_status(client, db, status) -> None:
    admin = await make_actor(client, db, role="admin")
    response = await client.get("/outbox", params={"status": status}, headers=admin.headers)
    assert response.status_code == 400


async def test_a_pass_past_its_lease_and_a_new_claim_never_both_send(client, db, smtp_server, worker) -> None:
    """A slow pass (a slow mail server) reaches a message of its batch after its lease ran out.
    Renewed first, the message is its own again: a pass claiming meanwhile finds nothing. Claimed
    by another pass first, the slow pass leaves it. Either way it goes out once."""
    await bought(client, db)
    await bought(client, db)
    slow = delivery_for(worker)
    claimed_at = utc_now()
    first, second = await slow.claim("slow-worker:1", claimed_at)
    late = claimed_at + dt.timedelta(seconds=worker.settings.outbox_claim_timeout_seconds + 1)

    assert await slow._read(first, "slow-worker:1", late) is not None  # renewed, about to send
    taken = await delivery_for(worker).claim("other-worker:1", late)
    assert taken == [second]  # the renewed one is not claimable; the other one is
    assert await slow._deliver(first, "slow-worker:1", late) == Outcome.SENT
    assert await slow._deliver(second, "slow-worker:1", late) == Outcome.LOST  # the other's now

    assert len(smtp_server.messages) == 1
    rows = {row.id: row for row in await outbox_rows(db)}
    assert (rows[first].status, rows[second].claimed_by) == (OutboxStatus.SENT, "other-worker:1")
