"""Only the key asked about counts (a duplicate of a unique key, a foreign key's missing row): any
other refusal is a real error."""

from __future__ import annotations

import sqlite3

import pytest
from asyncmy.errors import IntegrityError

from ticketflow.db.driver import duplicate_key, missing_parent

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
