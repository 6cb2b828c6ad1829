"""ticket transfers

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06

A new table, `ticket_transfers`: one row per change of a ticket's holder (from, to, who asked,
when, the code version and the code it revoked). `(ticket_id, old_version)` is unique: a version
is transferred away once, whatever the concurrency. The outbox learns two message kinds (the
CHECK constraint on `kind` is rebuilt; SQLite rebuilds the table in batch mode). No data moves.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ticketflow.db.types import ExactString, UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TABLE_OPTIONS = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
KINDS = "'tickets', 'ticket_cancelled', 'event_cancelled', 'event_changed'"
NEW_KINDS = KINDS + ", 'ticket_transferred', 'ticket_received'"


def _kinds(allowed: str) -> None:
    with op.batch_alter_table("outbox_messages") as batch:
        batch.drop_constraint(op.f("ck_outbox_messages_kind_known"), type_="check")
        batch.create_check_constraint(op.f("ck_outbox_messages_kind_known"), f"kind IN ({allowed})")


def upgrade() -> None:
    op.create_table(
        "ticket_transfers",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("ticket_id", ID, nullable=False),
        sa.Column("from_user_id", ID, nullable=False),
        sa.Column("to_user_id", ID, nullable=False),
        sa.Column("by_user_id", ID, nullable=True),
        sa.Column("old_version", sa.Integer(), nullable=False),
        sa.Column("old_code", ExactString(128), nullable=False),
        sa.Column("transferred_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_transfers_ticket_id_tickets")
        ),
        sa.ForeignKeyConstraint(
            ["from_user_id"], ["users.id"], name=op.f("fk_ticket_transfers_from_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["to_user_id"], ["users.id"], name=op.f("fk_ticket_transfers_to_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["by_user_id"],
            ["users.id"],
            name=op.f("fk_ticket_transfers_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_transfers")),
        sa.UniqueConstraint("ticket_id", "old_version", name="uq_ticket_transfers_ticket_id_old_version"),
        **TABLE_OPTIONS,
    )
    op.create_index(op.f("ix_ticket_transfers_transferred_at"), "ticket_transfers", ["transferred_at"])
    op.create_index(op.f("ix_ticket_transfers_from_user_id"), "ticket_transfers", ["from_user_id"])
    op.create_index(op.f("ix_ticket_transfers_to_user_id"), "ticket_transfers", ["to_user_id"])
    op.create_index(op.f("ix_ticket_transfers_old_code"), "ticket_transfers", ["old_code"])
    _kinds(NEW_KINDS)


def downgrade() -> None:
    op.execute("DELETE FROM outbox_messages WHERE kind IN ('ticket_transferred', 'ticket_received')")
    _kinds(KINDS)
    op.drop_table("ticket_transfers")
