"""offline scans: client ids, the device's own answer, `duplicate_admission`

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06

Reviewed by hand for MySQL/MariaDB and SQLite: `check_ins` gains three nullable columns (every
existing scan was decided online), a unique (scanner_id, client_id) pair so a re-sent offline scan
is found instead of stored twice (NULL client ids - online scans - never collide; it also serves
the scanner's foreign key and its look-ups, so the single-column scanner index goes), `result` grows
to 24 characters and its constraint learns `duplicate_admission`. SQLite cannot change a
constraint in place: the batch operation rebuilds `check_ins` there.

Downgrade removes offline scans' ids and turns `duplicate_admission` rows into `already_used`
(the closest older word: the ticket had been admitted before) so the old constraint holds.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ticketflow.db.types import ExactString, UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

OLD_RESULTS = "result IN ('valid', 'already_used', 'invalid', 'exited', 'reverted')"
NEW_RESULTS = "result IN ('valid', 'already_used', 'invalid', 'exited', 'reverted', 'duplicate_admission')"


def upgrade() -> None:
    with op.batch_alter_table("check_ins") as batch:
        batch.alter_column(
            "result", type_=sa.String(24), existing_type=sa.String(16), existing_nullable=False
        )
        batch.add_column(sa.Column("client_id", ExactString(64), nullable=True))
        batch.add_column(sa.Column("offline_result", sa.String(24), nullable=True))
        batch.add_column(sa.Column("synced_at", UTCDateTime(), nullable=True))
        batch.create_unique_constraint(op.f("uq_check_ins_scanner_id_client_id"), ["scanner_id", "client_id"])
        batch.drop_index(op.f("ix_check_ins_scanner_id"))
        batch.drop_constraint(op.f("ck_check_ins_result_known"), type_="check")
        batch.create_check_constraint(op.f("ck_check_ins_result_known"), NEW_RESULTS)


def downgrade() -> None:
    op.execute("UPDATE check_ins SET result = 'already_used' WHERE result = 'duplicate_admission'")
    with op.batch_alter_table("check_ins") as batch:
        batch.drop_constraint(op.f("ck_check_ins_result_known"), type_="check")
        batch.create_check_constraint(op.f("ck_check_ins_result_known"), OLD_RESULTS)
        batch.create_index(op.f("ix_check_ins_scanner_id"), ["scanner_id"])
        batch.drop_constraint(op.f("uq_check_ins_scanner_id_client_id"), type_="unique")
        batch.drop_column("synced_at")
        batch.drop_column("offline_result")
        batch.drop_column("client_id")
        batch.alter_column(
            "result", type_=sa.String(16), existing_type=sa.String(24), existing_nullable=False
        )
