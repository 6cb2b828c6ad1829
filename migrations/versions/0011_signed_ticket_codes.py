"""signed ticket codes: wider code column, code versions

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06

A signed `tf2.` code is 111 characters: `tickets.code` grows from 64 to 128 (the length of the scan
log's `scanned_code`), keeping its byte-exact collation on MySQL/MariaDB (`ExactString`). Every
ticket gains `code_version`, the version its `tf2.` code must carry; tickets already issued keep
their `tf1.` codes and start at version 1 (the column's default fills them). No data moves.

SQLite cannot alter a column in place: the table is rebuilt (batch mode), with foreign key
enforcement off meanwhile because the scan log refers to tickets. Downgrade shortens the column
again and fails when a longer code was issued by then: such a ticket must not lose its code.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ticketflow.db.types import ExactString

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

NARROW, WIDE = 64, 128


def set_foreign_keys(on: bool) -> None:
    """SQLite only: switch foreign key enforcement (outside any transaction)."""
    with op.get_context().autocommit_block():
        op.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


def _change(upgrade: bool) -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    old, new = (NARROW, WIDE) if upgrade else (WIDE, NARROW)
    if not upgrade:
        longest = op.get_bind().scalar(sa.text("SELECT MAX(LENGTH(code)) FROM tickets")) or 0
        if longest > NARROW:
            msg = f"tickets hold codes of {longest} characters: they do not fit VARCHAR({NARROW})"
            raise RuntimeError(msg)
    if sqlite:
        set_foreign_keys(on=False)
    with op.batch_alter_table("tickets") as batch:
        batch.alter_column(
            "code", type_=ExactString(new), existing_type=ExactString(old), existing_nullable=False
        )
        if upgrade:
            batch.add_column(sa.Column("code_version", sa.Integer(), nullable=False, server_default="1"))
            batch.create_check_constraint(op.f("ck_tickets_code_version_positive"), "code_version >= 1")
        else:
            batch.drop_constraint(op.f("ck_tickets_code_version_positive"), type_="check")
            batch.drop_column("code_version")
    if sqlite:
        set_foreign_keys(on=True)


def upgrade() -> None:
    _change(upgrade=True)


def downgrade() -> None:
    _change(upgrade=False)
