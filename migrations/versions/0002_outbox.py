"""e-mail outbox

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26

Reviewed by hand for MySQL/MariaDB and SQLite. Workers claim due rows through the
(status, next_attempt_at) index; foreign keys use SET NULL so a message never blocks (or is lost
with) the rows it refers to.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ticketflow.db.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# InnoDB and utf8mb4 on MySQL/MariaDB whatever the server's defaults; ignored by SQLite.
TABLE_OPTIONS = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}
REFERENCES = ("user_id", "event_id", "order_id", "ticket_id")


def upgrade() -> None:
    op.create_table(
        "outbox_messages",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("message_id", sa.String(length=128), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("recipient_name", sa.String(length=120), nullable=False),
        *(
            sa.Column(name, sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
            for name in REFERENCES
        ),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", ticketflow.db.types.UTCDateTime(), nullable=False),
        sa.Column("claimed_at", ticketflow.db.types.UTCDateTime(), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        sa.Column("sent_at", ticketflow.db.types.UTCDateTime(), nullable=True),
        sa.Column("created_at", ticketflow.db.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", ticketflow.db.types.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'sending', 'sent', 'failed', 'skipped')",
            name=op.f("ck_outbox_messages_status_known"),
        ),
        sa.CheckConstraint(
            "kind IN ('tickets', 'ticket_cancelled', 'event_cancelled', 'event_changed')",
            name=op.f("ck_outbox_messages_kind_known"),
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_outbox_messages_attempts_not_negative")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_outbox_messages_user_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_outbox_messages_event_id_events"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_outbox_messages_order_id_orders"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_outbox_messages_ticket_id_tickets"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_messages")),
        sa.UniqueConstraint("message_id", name=op.f("uq_outbox_messages_message_id")),
        **TABLE_OPTIONS,
    )
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_messages_status_next_attempt_at", ["status", "next_attempt_at"], unique=False
        )
        for name in REFERENCES:
            batch_op.create_index(batch_op.f(f"ix_outbox_messages_{name}"), [name], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        for name in reversed(REFERENCES):
            batch_op.drop_index(batch_op.f(f"ix_outbox_messages_{name}"))
        batch_op.drop_index("ix_outbox_messages_status_next_attempt_at")

    op.drop_table("outbox_messages")
