"""payments, refunds and provider events

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26

Reviewed by hand for MySQL/MariaDB and SQLite: every string has a length, times are DATETIME(6)
in UTC, money is BIGINT minor units. The unique constraints carry the exactly-once rules: one
checkout per order, one row per provider payment, one per provider event, one refund per ticket.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ticketflow.db.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# InnoDB and utf8mb4 on MySQL/MariaDB whatever the server's defaults; ignored by SQLite.
TABLE_OPTIONS = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}


def id_column(name: str = "id", *, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(
        name,
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        autoincrement=name == "id",
        nullable=nullable,
    )


def timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", ticketflow.db.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", ticketflow.db.types.UTCDateTime(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "payment_checkouts",
        id_column(),
        id_column("order_id"),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("access_token", sa.String(length=64), nullable=True),
        sa.Column("expires_at", ticketflow.db.types.UTCDateTime(), nullable=False),
        *timestamps(),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_payment_checkouts_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_checkouts")),
        sa.UniqueConstraint("order_id", name=op.f("uq_payment_checkouts_order_id")),
        sa.UniqueConstraint(
            "provider", "external_id", name=op.f("uq_payment_checkouts_provider_external_id")
        ),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "payments",
        id_column(),
        id_column("order_id"),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("provider_payment_id", sa.String(length=255), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("refusal", sa.String(length=32), nullable=True),
        sa.Column("refunded_cents", sa.BigInteger(), nullable=False),
        sa.Column("received_at", ticketflow.db.types.UTCDateTime(), nullable=False),
        *timestamps(),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_payments_amount_positive")),
        sa.CheckConstraint(
            "refunded_cents >= 0 AND refunded_cents <= amount_cents",
            name=op.f("ck_payments_refund_within_amount"),
        ),
        sa.CheckConstraint("status IN ('accepted', 'refused')", name=op.f("ck_payments_status_known")),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_payments_order_id_orders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint(
            "provider", "provider_payment_id", name=op.f("uq_payments_provider_provider_payment_id")
        ),
        **TABLE_OPTIONS,
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payments_order_id"), ["order_id"], unique=False)

    op.create_table(
        "refunds",
        id_column(),
        id_column("payment_id"),
        id_column("order_id"),
        id_column("ticket_id", nullable=True),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", ticketflow.db.types.UTCDateTime(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("provider_refund_id", sa.String(length=255), nullable=True),
        sa.Column("refunded_at", ticketflow.db.types.UTCDateTime(), nullable=True),
        *timestamps(),
        sa.CheckConstraint("amount_cents > 0", name=op.f("ck_refunds_amount_positive")),
        sa.CheckConstraint(
            "status IN ('pending', 'succeeded', 'failed')", name=op.f("ck_refunds_status_known")
        ),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_refunds_order_id_orders")),
        sa.ForeignKeyConstraint(["payment_id"], ["payments.id"], name=op.f("fk_refunds_payment_id_payments")),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_refunds_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refunds")),
        sa.UniqueConstraint("ticket_id", name=op.f("uq_refunds_ticket_id")),
        **TABLE_OPTIONS,
    )
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_refunds_order_id"), ["order_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_refunds_payment_id"), ["payment_id"], unique=False)
        batch_op.create_index(
            "ix_refunds_status_next_attempt_at", ["status", "next_attempt_at"], unique=False
        )

    op.create_table(
        "payment_provider_events",
        id_column(),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        id_column("order_id", nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("received_at", ticketflow.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_payment_provider_events_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_provider_events")),
        sa.UniqueConstraint(
            "provider", "event_id", name=op.f("uq_payment_provider_events_provider_event_id")
        ),
        **TABLE_OPTIONS,
    )
    with op.batch_alter_table("payment_provider_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payment_provider_events_order_id"), ["order_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("payment_provider_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_provider_events_order_id"))
    op.drop_table("payment_provider_events")
    with op.batch_alter_table("refunds", schema=None) as batch_op:
        batch_op.drop_index("ix_refunds_status_next_attempt_at")
        batch_op.drop_index(batch_op.f("ix_refunds_payment_id"))
        batch_op.drop_index(batch_op.f("ix_refunds_order_id"))
    op.drop_table("refunds")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payments_order_id"))
    op.drop_table("payments")
    op.drop_table("payment_checkouts")
