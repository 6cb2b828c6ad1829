"""initial schema: users, events, orders, tickets, check-ins

Revision ID: 0001
Revises:
Create Date: 2026-11-26

Reviewed by hand for MySQL/MariaDB and SQLite: every string has a length, times are DATETIME(6)
in UTC, the CHECK constraints hold the inventory invariant in the database itself.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import ticketflow.db.types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# InnoDB and utf8mb4 on MySQL/MariaDB whatever the server's defaults; ignored by SQLite.
TABLE_OPTIONS = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", ticketflow.db.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", ticketflow.db.types.UTCDateTime(), nullable=False),
        sa.CheckConstraint("role IN ('attendee', 'staff', 'admin')", name=op.f("ck_users_role_known")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("venue", sa.String(length=200), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("starts_at", ticketflow.db.types.UTCDateTime(), nullable=False),
        sa.Column("ends_at", ticketflow.db.types.UTCDateTime(), nullable=True),
        sa.Column("sales_start_at", ticketflow.db.types.UTCDateTime(), nullable=True),
        sa.Column("sales_end_at", ticketflow.db.types.UTCDateTime(), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("tickets_sold", sa.Integer(), nullable=False),
        sa.Column("tickets_held", sa.Integer(), nullable=False),
        sa.Column("price_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("max_per_order", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("admin_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", ticketflow.db.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", ticketflow.db.types.UTCDateTime(), nullable=False),
        sa.CheckConstraint("status IN ('scheduled', 'cancelled')", name=op.f("ck_events_status_known")),
        sa.CheckConstraint("capacity >= 1", name=op.f("ck_events_capacity_positive")),
        sa.CheckConstraint("max_per_order >= 1", name=op.f("ck_events_max_per_order_positive")),
        sa.CheckConstraint("price_cents >= 0", name=op.f("ck_events_price_not_negative")),
        sa.CheckConstraint("tickets_sold + tickets_held <= capacity", name=op.f("ck_events_not_oversold")),
        sa.CheckConstraint(
            "tickets_sold >= 0 AND tickets_held >= 0", name=op.f("ck_events_counters_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["admin_id"], ["users.id"], name=op.f("fk_events_admin_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        **TABLE_OPTIONS,
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_events_admin_id"), ["admin_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_events_starts_at"), ["starts_at"], unique=False)
        batch_op.create_index("ix_events_status_starts_at", ["status", "starts_at"], unique=False)

    op.create_table(
        "orders",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=True),
        sa.Column("request_fingerprint", sa.String(length=64), nullable=True),
        sa.Column("expires_at", ticketflow.db.types.UTCDateTime(), nullable=True),
        sa.Column("paid_at", ticketflow.db.types.UTCDateTime(), nullable=True),
        sa.Column("payment_provider", sa.String(length=32), nullable=True),
        sa.Column("refunded_cents", sa.BigInteger(), nullable=False),
        sa.Column("created_at", ticketflow.db.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", ticketflow.db.types.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'paid', 'cancelled', 'expired', 'refunded')",
            name=op.f("ck_orders_status_known"),
        ),
        sa.CheckConstraint("amount_cents >= 0", name=op.f("ck_orders_amount_not_negative")),
        sa.CheckConstraint("quantity >= 1", name=op.f("ck_orders_quantity_positive")),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], name=op.f("fk_orders_event_id_events")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_orders_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("user_id", "idempotency_key", name=op.f("uq_orders_user_id_idempotency_key")),
        **TABLE_OPTIONS,
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_orders_event_id"), ["event_id"], unique=False)
        batch_op.create_index("ix_orders_status_expires_at", ["status", "expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_orders_user_id"), ["user_id"], unique=False)

    op.create_table(
        "tickets",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("used_at", ticketflow.db.types.UTCDateTime(), nullable=True),
        sa.Column("cancelled_at", ticketflow.db.types.UTCDateTime(), nullable=True),
        sa.Column("created_at", ticketflow.db.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", ticketflow.db.types.UTCDateTime(), nullable=False),
        sa.CheckConstraint("status <> 'used' OR used_at IS NOT NULL", name=op.f("ck_tickets_used_has_time")),
        sa.CheckConstraint(
            "status IN ('pending', 'active', 'used', 'cancelled')",
            name=op.f("ck_tickets_status_known"),
        ),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], name=op.f("fk_tickets_event_id_events")),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_tickets_order_id_orders")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_tickets_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
        sa.UniqueConstraint("code", name=op.f("uq_tickets_code")),
        **TABLE_OPTIONS,
    )
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.create_index("ix_tickets_event_id_status", ["event_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_tickets_order_id"), ["order_id"], unique=False)
        batch_op.create_index("ix_tickets_user_id_created_at", ["user_id", "created_at"], unique=False)

    op.create_table(
        "check_ins",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("door_event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("scanned_code", sa.String(length=128), nullable=False),
        sa.Column("result", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("scanned_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("scanned_at", ticketflow.db.types.UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "result IN ('valid', 'already_used', 'invalid')", name=op.f("ck_check_ins_result_known")
        ),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], name=op.f("fk_check_ins_event_id_events")),
        sa.ForeignKeyConstraint(
            ["scanned_by_id"],
            ["users.id"],
            name=op.f("fk_check_ins_scanned_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], name=op.f("fk_check_ins_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_check_ins")),
        **TABLE_OPTIONS,
    )
    with op.batch_alter_table("check_ins", schema=None) as batch_op:
        batch_op.create_index("ix_check_ins_event_id_scanned_at", ["event_id", "scanned_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_check_ins_ticket_id"), ["ticket_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("check_ins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_check_ins_ticket_id"))
        batch_op.drop_index("ix_check_ins_event_id_scanned_at")

    op.drop_table("check_ins")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_user_id_created_at")
        batch_op.drop_index(batch_op.f("ix_tickets_order_id"))
        batch_op.drop_index("ix_tickets_event_id_status")

    op.drop_table("tickets")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_user_id"))
        batch_op.drop_index("ix_orders_status_expires_at")
        batch_op.drop_index(batch_op.f("ix_orders_event_id"))

    op.drop_table("orders")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_status_starts_at")
        batch_op.drop_index(batch_op.f("ix_events_starts_at"))
        batch_op.drop_index(batch_op.f("ix_events_admin_id"))

    op.drop_table("events")
    op.drop_table("users")
