"""gates, scanner devices, and the scan log's gate, scanner and reverts

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06

Reviewed by hand for MySQL/MariaDB and SQLite: two new tables; `check_ins` gains three nullable
columns (existing scans were made by accounts at no gate) and its result constraint learns
`exited` and `reverted`. Secret digests are BINARY(32), compared byte for byte. SQLite cannot
change a constraint in place, so the batch operation rebuilds `check_ins` there.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ticketflow.db.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
OLD_RESULTS = "result IN ('valid', 'already_used', 'invalid')"
NEW_RESULTS = "result IN ('valid', 'already_used', 'invalid', 'exited', 'reverted')"
# InnoDB and utf8mb4 on MySQL/MariaDB whatever the server's defaults; ignored by SQLite.
TABLE_OPTIONS = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}


def _times() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", ticketflow.db.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", ticketflow.db.types.UTCDateTime(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "gates",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("event_id", ID, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("ticket_type_ids", sa.JSON(), nullable=False),
        sa.Column("allow_reentry", sa.Boolean(), nullable=False),
        sa.Column("admitted", sa.Integer(), nullable=False),
        sa.Column("inside", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        *_times(),
        sa.CheckConstraint(
            "admitted >= 0 AND inside >= 0 AND refused >= 0", name=op.f("ck_gates_counters_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_gates_event_id_events"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gates")),
        **TABLE_OPTIONS,
    )
    op.create_index(op.f("ix_gates_event_id"), "gates", ["event_id"])
    op.create_table(
        "scanners",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("event_id", ID, nullable=False),
        sa.Column("gate_id", ID, nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("pairing_code_hash", ticketflow.db.types.secret_digest(32), nullable=True),
        sa.Column("pairing_expires_at", ticketflow.db.types.UTCDateTime(), nullable=False),
        sa.Column("token_hash", ticketflow.db.types.secret_digest(32), nullable=True),
        sa.Column("paired_at", ticketflow.db.types.UTCDateTime(), nullable=True),
        sa.Column("expires_at", ticketflow.db.types.UTCDateTime(), nullable=False),
        sa.Column("revoked_at", ticketflow.db.types.UTCDateTime(), nullable=True),
        sa.Column("last_seen_at", ticketflow.db.types.UTCDateTime(), nullable=True),
        *_times(),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_scanners_event_id_events"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["gate_id"], ["gates.id"], name=op.f("fk_scanners_gate_id_gates"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scanners")),
        sa.UniqueConstraint("pairing_code_hash", name=op.f("uq_scanners_pairing_code_hash")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_scanners_token_hash")),
        **TABLE_OPTIONS,
    )
    op.create_index(op.f("ix_scanners_event_id"), "scanners", ["event_id"])
    with op.batch_alter_table("check_ins") as batch:
        batch.add_column(sa.Column("gate_id", ID, nullable=True))
        batch.add_column(sa.Column("scanner_id", ID, nullable=True))
        batch.add_column(sa.Column("reverts_id", ID, nullable=True))
        batch.create_foreign_key(
            op.f("fk_check_ins_gate_id_gates"), "gates", ["gate_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_foreign_key(
            op.f("fk_check_ins_scanner_id_scanners"), "scanners", ["scanner_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_foreign_key(
            op.f("fk_check_ins_reverts_id_check_ins"), "check_ins", ["reverts_id"], ["id"]
        )
        batch.create_index(op.f("ix_check_ins_scanner_id"), ["scanner_id"])
        batch.create_unique_constraint(op.f("uq_check_ins_reverts_id"), ["reverts_id"])
        batch.drop_constraint(op.f("ck_check_ins_result_known"), type_="check")
        batch.create_check_constraint(op.f("ck_check_ins_result_known"), NEW_RESULTS)


def downgrade() -> None:
    op.execute("DELETE FROM check_ins WHERE result IN ('exited', 'reverted')")
    with op.batch_alter_table("check_ins") as batch:
        batch.drop_constraint(op.f("ck_check_ins_result_known"), type_="check")
        batch.create_check_constraint(op.f("ck_check_ins_result_known"), OLD_RESULTS)
        batch.drop_constraint(op.f("fk_check_ins_reverts_id_check_ins"), type_="foreignkey")
        batch.drop_constraint(op.f("fk_check_ins_scanner_id_scanners"), type_="foreignkey")
        batch.drop_constraint(op.f("fk_check_ins_gate_id_gates"), type_="foreignkey")
        batch.drop_constraint(op.f("uq_check_ins_reverts_id"), type_="unique")
        batch.drop_index(op.f("ix_check_ins_scanner_id"))
        batch.drop_column("reverts_id")
        batch.drop_column("scanner_id")
        batch.drop_column("gate_id")
    op.drop_index(op.f("ix_scanners_event_id"), table_name="scanners")
    op.drop_table("scanners")
    op.drop_index(op.f("ix_gates_event_id"), table_name="gates")
    op.drop_table("gates")
