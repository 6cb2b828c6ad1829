"""Only the key asked about counts (a duplicate of a unique key, a foreign key's missing row): any
other refusal is a real error."""

from __future__ import annotations

import sqlite3

import pytest
from asyncmy.errors import IntegrityError, InternalError, OperationalError
from sqlalchemy import exc

from tests.support.databases import DEADLOCK
from ticketflow.db.driver import (
    DEADLOCK_ATTEMPTS,
    DeadlockedEveryAttempt,
    again_if_deadlocked,
    deadlock,
    duplicate_key,
    missing_parent,
)
from ticketflow.lib.repository import again_if_deadlocked_in

KEY = ("check_ins", ("scanner_id", "client_id"))


@pytest.mark.parametrize(
    ("error", "ours"),
    [
        (IntegrityError(1062, "Duplicate entry '3-a1' for key 'uq_check_ins_scanner_id_client_id'"), True),
        (
            IntegrityError(
                1062, "Duplicate entry '3-a1' for key 'check_ins.uq_check_ins_scanner_id_client_id'"
            ),
            True,
        ),
        (IntegrityError(1062, "Duplicate entry '7' for key 'uq_check_ins_reverts_id'"), False),
        (IntegrityError(1452, "Cannot add or update a child row: a foreign key constraint fails"), False),
        (IntegrityError(1062), False),
        (sqlite3.IntegrityError("UNIQUE constraint failed: check_ins.scanner_id, check_ins.client_id"), True),
        (sqlite3.IntegrityError("UNIQUE constraint failed: check_ins.reverts_id"), False),
        (sqlite3.IntegrityError("FOREIGN KEY constraint failed"), False),
        (ValueError("UNIQUE constraint failed: check_ins.scanner_id, check_ins.client_id"), False),
    ],
)
def test_only_the_named_unique_key_is_a_duplicate(error: BaseException, ours: bool) -> None:
    assert duplicate_key(error, *KEY) is ours


GATE_GONE = (
    "Cannot add or update a child row: a foreign key constraint fails (`tf`.`check_ins`, CONSTRAINT"
    " `fk_check_ins_gate_id_gates` FOREIGN KEY (`gate_id`) REFERENCES `gates` (`id`) ON DELETE SET NULL)"
)
"""MariaDB's words (MySQL 8 says the same)."""
OTHER_KEY = GATE_GONE.replace("gate_id", "scanner_id").replace("gates", "scanners")


@pytest.mark.parametrize(
    ("error", "ours"),
    [
        (IntegrityError(1452, GATE_GONE), True),
        (IntegrityError(1452, OTHER_KEY), False),
        (IntegrityError(1452, GATE_GONE.replace("`check_ins`", "`scanners`")), False),
        (IntegrityError(1451, GATE_GONE.replace("add or update a child", "delete a parent")), False),
        (IntegrityError(1062, "Duplicate entry '7' for key 'uq_check_ins_reverts_id'"), False),
        (IntegrityError(1452), False),
        (sqlite3.IntegrityError("FOREIGN KEY constraint failed"), False),
        (ValueError(GATE_GONE), False),
    ],
)
def test_only_the_named_foreign_key_is_a_missing_parent(error: BaseException, ours: bool) -> None:
    assert missing_parent(error, "check_ins", "gate_id", "gates") is ours


@pytest.mark.parametrize(
    ("error", "ours"),
    [
        (DEADLOCK, True),
        (exc.OperationalError("DELETE FROM gates WHERE gates.id = %s", (7,), DEADLOCK), True),  # SQLAlchemy's
        (OperationalError(1205, "Lock wait timeout exceeded; try restarting transaction"), False),
        (OperationalError(2013, "Lost connection to MySQL server during query"), False),
        (InternalError(1213, "Deadlock found when trying to get lock"), False),
        (IntegrityError(1213, "Deadlock found when trying to get lock"), False),
        (OperationalError(), False),
        (exc.OperationalError("SELECT 1", (), sqlite3.OperationalError("database is locked")), False),
        (sqlite3.OperationalError("database is locked"), False),
        (ValueError(1213), False),
    ],
)
def test_only_error_1213_is_a_deadlock(error: BaseException, ours: bool) -> None:
    assert deadlock(error) is ours


class Transaction:
    """A fake transaction: raises the errors given, one per run, then answers its run's number."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.runs = 0

    async def __call__(self) -> int:
        self.runs += 1
        if self.errors:
            raise self.errors.pop(0)
        return self.runs


async def test_a_deadlock_victim_runs_again_and_answers_the_second_run() -> None:
    work = Transaction(DEADLOCK)
    assert await again_if_deadlocked(work) == 2
    assert work.runs == 2


async def test_a_transaction_that_succeeds_runs_once() -> None:
    work = Transaction()
    assert await again_if_deadlocked(work) == 1
    assert work.runs == 1


async def test_a_victim_every_time_is_deadlocked_every_attempt_after_the_last() -> None:
    work = Transaction(*[DEADLOCK] * (DEADLOCK_ATTEMPTS + 1))
    with pytest.raises(DeadlockedEveryAttempt) as raised:
        await again_if_deadlocked(work)
    assert raised.value.__cause__ is DEADLOCK
    assert work.runs == DEADLOCK_ATTEMPTS == 3


@pytest.mark.parametrize(
    "error",
    [
        OperationalError(1205, "Lock wait timeout exceeded; try restarting transaction"),
        IntegrityError(1062, "Duplicate entry '3-a1' for key 'uq_check_ins_scanner_id_client_id'"),
        ValueError("refused"),
    ],
)
async def test_any_other_error_goes_through_at_once(error: Exception) -> None:
    work = Transaction(error)
    with pytest.raises(type(error)):
        await again_if_deadlocked(work)
    assert work.runs == 1


class Session:
    """What `again_if_deadlocked_in` uses of a session: its rollback."""

    def __init__(self) -> None:
        self.rollbacks = 0

    async def rollback(self) -> None:
        self.rollbacks += 1


async def test_a_session_victim_is_rolled_back_before_it_runs_again() -> None:
    session, work = Session(), Transaction(DEADLOCK)
    assert await again_if_deadlocked_in(session, work) == 2  # type: ignore[arg-type]
    assert (work.runs, session.rollbacks) == (2, 1)


async def test_a_session_error_that_is_no_deadlock_goes_through_untouched() -> None:
    refusal = OperationalError(1205, "Lock wait timeout exceeded; try restarting transaction")
    session, work = Session(), Transaction(refusal)
    with pytest.raises(OperationalError):
        await again_if_deadlocked_in(session, work)  # type: ignore[arg-type]
    assert (work.runs, session.rollbacks) == (1, 0)
