"""The outbox worker job: claim due messages, compose them, send them, record what happened.

Claiming is what makes several workers (processes, hosts) safe together. A pass takes a unique
claim token and, in one short transaction, marks up to `OUTBOX_BATCH_SIZE` due messages as
`sending` under that token, with a lease until `now + OUTBOX_CLAIM_TIMEOUT_SECONDS` stored in
`next_attempt_at`:

* MySQL/MariaDB: `SELECT ... FOR UPDATE SKIP LOCKED` picks rows no other worker is claiming at
  that moment (READ COMMITTED, so no gap locks slow down purchases inserting messages), then
  one UPDATE marks exactly those rows.
* SQLite: the same statements without the row locks; every transaction begins IMMEDIATE
  there, so claims are serialised by the database's write lock.

The UPDATE re-checks that each row is still due, and the pass then reads back what carries its
token: a row is only ever worked on by the pass whose token it carries.

The message is then sent with no transaction open, and its outcome written with a conditional
UPDATE (`WHERE claimed_by = token AND status = 'sending'`). A message whose worker died is due
again once its lease has passed and is claimed anew (the attempt is counted at the claim, so a
message that kills its worker still ends up `failed`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import random
import secrets
import socket
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ticketflow.db.base import utc_now
from ticketflow.db.models.outbox import LAST_ERROR_MAX, OutboxMessage, OutboxStatus
from ticketflow.domain.notifications.compose import compose_message
from ticketflow.domain.notifications.identity import MailIdentity
from ticketflow.domain.notifications.letters import Letter, NothingToSend, load_letter
from ticketflow.domain.notifications.transports import MailTransport, PermanentFailure
from ticketflow.lib.mail_addresses import InvalidAddress
from ticketflow.settings import Settings

logger = logging.getLogger("ticketflow.mail")

CLAIMABLE = (OutboxStatus.PENDING, OutboxStatus.SENDING)
"""`sending` rows are claimable again once their lease (`next_attempt_at`) has passed."""


class Outcome(StrEnum):
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    SKIPPED = "skipped"
    LOST = "lost"
    """The claim expired and another pass took the message over."""


@dataclass
class PassReport:
    claimed: int = 0
    sent: int = 0
    retry: int = 0
    failed: int = 0
    skipped: int = 0
    lost: int = 0

    def count(self, outcome: Outcome) -> None:
        setattr(self, outcome.value, getattr(self, outcome.value) + 1)


def retry_delay(attempt: int, *, base: float, cap: float, rng: random.Random) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based).

    Exponential (`base * 2**(attempt-1)`, at most `cap`) with "equal jitter": a random point in
    the upper half, so workers that failed together do not retry together.
    """
    ceiling = min(cap, base * 2.0 ** max(attempt - 1, 0))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


def worker_name() -> str:
    return f"{socket.gethostname()[:32]}:{os.getpid()}"


def error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:LAST_ERROR_MAX]


async def update_if_claimed(
    session: AsyncSession, message_id: int, token: str, values: dict[str, Any]
) -> bool:
    """Set `values` on the message while the pass with `token` still holds its claim; whether it did."""
    result = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.claimed_by == token,
            OutboxMessage.status == OutboxStatus.SENDING,
        )
        .values(values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


class OutboxDelivery:
    """One worker's delivery of the outbox, pass by pass."""

    def __init__(
        self,
        session_maker: async_sessionmaker[AsyncSession],
        settings: Settings,
        transport: MailTransport,
        identity: MailIdentity,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.session_maker = session_maker
        self.settings = settings
        self.transport = transport
        self.identity = identity
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not security

    async def run_once(self, now: dt.datetime | None = None) -> PassReport:
        """Claim a batch of due messages and deliver them. `now` is for tests (a later time)."""
        token = f"{worker_name()}:{secrets.token_hex(6)}"
        claimed = await self.claim(token, now or utc_now())
        report = PassReport(claimed=len(claimed))
        try:
            for message_id in claimed:
                report.count(await self._deliver(message_id, token, now))
        finally:
            await self.transport.close()
        if claimed:
            logger.info("outbox pass %s: %s", token, report)
        return report

    async def claim(self, token: str, now: dt.datetime) -> list[int]:
        """Mark up to a batch of due messages as ours; returns their ids.

        Expired claims first (few, and the oldest work), then pending messages, each in index
        order (`status = :s AND next_attempt_at <= :now ORDER BY next_attempt_at, id`): with
        no sort step, InnoDB locks only the rows it returns and another worker skips just those.
        """
        lease_until = now + dt.timedelta(seconds=self.settings.outbox_claim_timeout_seconds)
        oldest_first = (OutboxMessage.next_attempt_at, OutboxMessage.id)
        async with self.session_maker() as session:
            if session.get_bind().dialect.name != "sqlite":
                await session.connection(execution_options={"isolation_level": "READ COMMITTED"})
            ids: list[int] = []
            for status in (OutboxStatus.SENDING, OutboxStatus.PENDING):
                room = self.settings.outbox_batch_size - len(ids)
                if room <= 0:
                    break
                ids += await session.scalars(
                    select(OutboxMessage.id)
                    .where(OutboxMessage.status == status, OutboxMessage.next_attempt_at <= now)
                    .order_by(*oldest_first)
                    .limit(room)
                    .with_for_update(skip_locked=True)  # SQLite: no-op, its write lock is held
                )
            if not ids:
                await session.rollback()
                return []
            await session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id.in_(ids),
                    OutboxMessage.status.in_(CLAIMABLE),
                    OutboxMessage.next_attempt_at <= now,
                )
                .values(
                    status=OutboxStatus.SENDING,
                    claimed_by=token,
                    claimed_at=now,
                    next_attempt_at=lease_until,
                    attempts=OutboxMessage.attempts + 1,
                )
                .execution_options(synchronize_session=False)
            )
            claimed = list(
                await session.scalars(
                    select(OutboxMessage.id)
                    .where(OutboxMessage.claimed_by == token, OutboxMessage.status == OutboxStatus.SENDING)
                    .order_by(OutboxMessage.id)
                )
            )
            await session.commit()
        return claimed

    async def _read(
        self, message_id: int, token: str, now: dt.datetime
    ) -> tuple[int, Letter | NothingToSend] | None:
        """The message's attempt number and letter (or why there is nothing to send); None if
        the claim is no longer ours. The session is closed on return (SQLite: lock released).

        The claim is renewed first, in one conditional UPDATE on the pass's token: a pass that
        reaches a message of its batch after its lease ran out (a slow mail server) either renews
        it before any other pass claims it (a claim needs the lease run out: it then waits for
        the new one) or finds it claimed by another pass and leaves it; never both send it."""
        lease_until = now + dt.timedelta(seconds=self.settings.outbox_claim_timeout_seconds)
        async with self.session_maker() as session:
            if not await update_if_claimed(session, message_id, token, {"next_attempt_at": lease_until}):
                await session.rollback()
                return None
            message = await session.get(OutboxMessage, message_id)
            if message is None:  # pragma: no cover - renewed in this transaction
                return None
            attempts = message.attempts
            letter: Letter | NothingToSend
            try:
                letter = await load_letter(session, message)
            except NothingToSend as exc:
                letter = exc
            await session.commit()
            return attempts, letter

    async def _deliver(self, message_id: int, token: str, now: dt.datetime | None) -> Outcome:
        read = await self._read(message_id, token, now or utc_now())
        if read is None:
            return Outcome.LOST
        attempts, letter = read
        if attempts > self.settings.outbox_max_attempts:
            # Reclaimed after its worker died during the last allowed attempt.
            reason = "no attempt left after an interrupted delivery"
            return await self._finish(message_id, token, Outcome.FAILED, reason, now)
        if isinstance(letter, NothingToSend):
            return await self._finish(message_id, token, Outcome.SKIPPED, str(letter), now)
        try:
            email = await asyncio.to_thread(compose_message, letter, self.identity, utc_now())
            recipient = email["To"].addresses[0].addr_spec
            await self.transport.send(email, sender=self.identity.sender.addr_spec, recipient=recipient)
        except (PermanentFailure, InvalidAddress) as exc:
            logger.error("message %s to %s failed for good: %s", message_id, letter.recipient, exc)
            return await self._finish(message_id, token, Outcome.FAILED, error_text(exc), now)
        except Exception as exc:
            final = attempts >= self.settings.outbox_max_attempts
            log = logger.error if final else logger.warning
            log("message %s attempt %s failed: %s", message_id, attempts, error_text(exc))
            outcome = Outcome.FAILED if final else Outcome.RETRY
            return await self._finish(message_id, token, outcome, error_text(exc), now, attempts=attempts)
        return await self._finish(message_id, token, Outcome.SENT, None, now)

    async def _finish(
        self,
        message_id: int,
        token: str,
        outcome: Outcome,
        error: str | None,
        now: dt.datetime | None,
        *,
        attempts: int = 0,
    ) -> Outcome:
        """Record `outcome`, unless another pass took the message over meanwhile (then LOST)."""
        moment = now or utc_now()
        values: dict[str, Any] = {"last_error": error}
        if outcome == Outcome.SENT:
            values |= {"status": OutboxStatus.SENT, "sent_at": moment}
        elif outcome == Outcome.RETRY:
            delay = retry_delay(
                attempts,
                base=self.settings.outbox_retry_base_seconds,
                cap=self.settings.outbox_retry_max_seconds,
                rng=self.rng,
            )
            values |= {
                "status": OutboxStatus.PENDING,
                "next_attempt_at": moment + dt.timedelta(seconds=delay),
            }
        else:
            values["status"] = OutboxStatus(outcome.value)
        async with self.session_maker() as session:
            recorded = await update_if_claimed(session, message_id, token, values)
            await session.commit()
        if not recorded:
            logger.warning("message %s: claim expired before its outcome was recorded", message_id)
            return Outcome.LOST
        return outcome
