"""Only the unique key asked about counts as a duplicate: any other refusal is a real error."""

from __future__ import annotations

import sqlite3

import pytest
from asyncmy.errors import IntegrityError

from ticketflow.db.driver import duplicate_key

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
