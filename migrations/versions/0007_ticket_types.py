"""ticket types, vouchers and order lines

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06

Reviewed by hand for MySQL/MariaDB and SQLite. Moves data: every existing event gets one type,
"General admission", with the event's price, capacity and counters; every order gets one line of
that type (unit price the event's price, amount the order's amount, the difference as discount);
every ticket points at its event's type. Tax rates are basis points (integers). Voucher codes
compare by their bytes (`utf8mb4_bin` on MySQL/MariaDB).

`tickets.ticket_type_id` is added nullable, filled, then made NOT NULL. On SQLite that last step
rebuilds `tickets`, which other tables reference: foreign keys are switched off around the rebuild
(they cannot be switched inside a transaction) and checked with `PRAGMA foreign_key_check` after.
Downgrade drops the new tables and columns (the per-type split of an event is lost).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

import ticketflow.db.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TABLE_OPTIONS = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def id_column(name: str = "id", *, nullable: bool = False, primary_key: bool = False) -> sa.Column[int]:
    return sa.Column(name, ID, autoincrement=name == "id", nullable=nullable, primary_key=primary_key)


def timestamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", ticketflow.db.types.UTCDateTime(), nullable=False),
        sa.Column("updated_at", ticketflow.db.types.UTCDateTime(), nullable=False),
    ]


def create_tables() -> None:
    op.create_table(
        "ticket_types",
        id_column(),
        id_column("event_id"),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("price_cents", sa.BigInteger(), nullable=False),
        sa.Column("tax_rate_bp", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("sold", sa.Integer(), nullable=False),
        sa.Column("held", sa.Integer(), nullable=False),
        sa.Column("max_per_order", sa.Integer(), nullable=True),
        sa.Column("sales_start_at", ticketflow.db.types.UTCDateTime(), nullable=True),
        sa.Column("sales_end_at", ticketflow.db.types.UTCDateTime(), nullable=True),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        *timestamps(),
        sa.CheckConstraint(
            "capacity IS NULL OR capacity >= 0", name=op.f("ck_ticket_types_capacity_not_negative")
        ),
        sa.CheckConstraint("sold >= 0 AND held >= 0", name=op.f("ck_ticket_types_counters_not_negative")),
        sa.CheckConstraint(
            "capacity IS NULL OR sold + held <= capacity", name=op.f("ck_ticket_types_not_oversold")
        ),
        sa.CheckConstraint("price_cents >= 0", name=op.f("ck_ticket_types_price_not_negative")),
        sa.CheckConstraint(
            "tax_rate_bp >= 0 AND tax_rate_bp <= 10000", name=op.f("ck_ticket_types_tax_rate_in_range")
        ),
        sa.CheckConstraint(
            "max_per_order IS NULL OR max_per_order >= 1", name=op.f("ck_ticket_types_max_per_order_positive")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_ticket_types_event_id_events"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_types")),
        **TABLE_OPTIONS,
    )
    op.create_index(op.f("ix_ticket_types_event_id_position"), "ticket_types", ["event_id", "position"])
    op.create_table(
        "vouchers",
        id_column(),
        id_column("event_id"),
        sa.Column(
            "code",
            sa.String(length=64).with_variant(
                mysql.VARCHAR(64, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb"
            ),
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("max_uses", sa.Integer(), nullable=True),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("valid_from", ticketflow.db.types.UTCDateTime(), nullable=True),
        sa.Column("valid_until", ticketflow.db.types.UTCDateTime(), nullable=True),
        sa.Column("unlocks_hidden", sa.Boolean(), nullable=False),
        *timestamps(),
        sa.CheckConstraint(
            "kind IN ('percent', 'amount', 'fixed_price')", name=op.f("ck_vouchers_kind_known")
        ),
        sa.CheckConstraint("value >= 0", name=op.f("ck_vouchers_value_not_negative")),
        sa.CheckConstraint("kind <> 'percent' OR value <= 100", name=op.f("ck_vouchers_percent_in_range")),
        sa.CheckConstraint("max_uses IS NULL OR max_uses >= 1", name=op.f("ck_vouchers_max_uses_positive")),
        sa.CheckConstraint(
            "uses >= 0 AND (max_uses IS NULL OR uses <= max_uses)", name=op.f("ck_vouchers_not_overused")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_vouchers_event_id_events"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vouchers")),
        sa.UniqueConstraint("event_id", "code", name=op.f("uq_vouchers_event_id_code")),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "voucher_ticket_types",
        id_column("voucher_id", primary_key=True),
        id_column("ticket_type_id", primary_key=True),
        sa.ForeignKeyConstraint(
            ["voucher_id"],
            ["vouchers.id"],
            name=op.f("fk_voucher_ticket_types_voucher_id_vouchers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_type_id"],
            ["ticket_types.id"],
            name=op.f("fk_voucher_ticket_types_ticket_type_id_ticket_types"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("voucher_id", "ticket_type_id", name=op.f("pk_voucher_ticket_types")),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "order_lines",
        id_column(),
        id_column("order_id"),
        id_column("ticket_type_id"),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price_cents", sa.BigInteger(), nullable=False),
        sa.Column("discount_cents", sa.BigInteger(), nullable=False),
        sa.Column("tax_rate_bp", sa.Integer(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("quantity >= 1", name=op.f("ck_order_lines_quantity_positive")),
        sa.CheckConstraint(
            "unit_price_cents >= 0 AND discount_cents >= 0", name=op.f("ck_order_lines_amounts_not_negative")
        ),
        sa.CheckConstraint("amount_cents >= 0", name=op.f("ck_order_lines_amount_not_negative")),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_order_lines_order_id_orders")),
        sa.ForeignKeyConstraint(
            ["ticket_type_id"], ["ticket_types.id"], name=op.f("fk_order_lines_ticket_type_id_ticket_types")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_lines")),
        **TABLE_OPTIONS,
    )
    op.create_index(op.f("ix_order_lines_order_id"), "order_lines", ["order_id"])
    op.create_index(op.f("ix_order_lines_ticket_type_id"), "order_lines", ["ticket_type_id"])


def move_data() -> None:
    """One "General admission" type per event, one line per order, every ticket on its type."""
    op.execute(
        "INSERT INTO ticket_types (event_id, name, description, price_cents, tax_rate_bp, capacity, sold,"
        " held, max_per_order, sales_start_at, sales_end_at, hidden, position, active, created_at,"
        " updated_at)"
        " SELECT id, 'General admission', '', price_cents, 0, capacity, tickets_sold, tickets_held, NULL,"
        " NULL, NULL, 0, 0, 1, created_at, updated_at FROM events"
    )
    op.execute(
        "UPDATE tickets SET ticket_type_id ="
        " (SELECT ticket_types.id FROM ticket_types WHERE ticket_types.event_id = tickets.event_id)"
    )
    op.execute(
        "INSERT INTO order_lines (order_id, ticket_type_id, name, quantity, unit_price_cents,"
        " discount_cents, tax_rate_bp, amount_cents)"
        " SELECT orders.id, ticket_types.id, ticket_types.name, orders.quantity, ticket_types.price_cents,"
        " CASE WHEN ticket_types.price_cents * orders.quantity > orders.amount_cents"
        " THEN ticket_types.price_cents * orders.quantity - orders.amount_cents ELSE 0 END,"
        " 0, orders.amount_cents"
        " FROM orders JOIN ticket_types ON ticket_types.event_id = orders.event_id"
    )


def set_foreign_keys(on: bool) -> None:
    """SQLite only: switch foreign key enforcement (outside any transaction)."""
    with op.get_context().autocommit_block():
        op.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


def upgrade() -> None:
    create_tables()
    op.add_column("orders", sa.Column("voucher_id", ID, nullable=True))
    op.add_column("orders", sa.Column("voucher_code", sa.String(length=64), nullable=True))
    op.add_column("tickets", sa.Column("ticket_type_id", ID, nullable=True))
    move_data()
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        set_foreign_keys(on=False)
    with op.batch_alter_table("orders") as batch:
        batch.create_foreign_key(
            op.f("fk_orders_voucher_id_vouchers"), "vouchers", ["voucher_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_index(op.f("ix_orders_voucher_id"), ["voucher_id"])
    with op.batch_alter_table("tickets") as batch:
        batch.alter_column("ticket_type_id", existing_type=ID, nullable=False)
        batch.create_foreign_key(
            op.f("fk_tickets_ticket_type_id_ticket_types"), "ticket_types", ["ticket_type_id"], ["id"]
        )
        batch.create_index(op.f("ix_tickets_ticket_type_id"), ["ticket_type_id"])
    if sqlite:
        broken = op.get_bind().exec_driver_sql("PRAGMA foreign_key_check").first()
        if broken is not None:
            msg = f"foreign key broken by the migration: {tuple(broken)}"
            raise RuntimeError(msg)
        set_foreign_keys(on=True)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        set_foreign_keys(on=False)
    with op.batch_alter_table("tickets") as batch:
        batch.drop_constraint(op.f("fk_tickets_ticket_type_id_ticket_types"), type_="foreignkey")
        batch.drop_index(op.f("ix_tickets_ticket_type_id"))
        batch.drop_column("ticket_type_id")
    with op.batch_alter_table("orders") as batch:
        batch.drop_constraint(op.f("fk_orders_voucher_id_vouchers"), type_="foreignkey")
        batch.drop_index(op.f("ix_orders_voucher_id"))
        batch.drop_column("voucher_code")
        batch.drop_column("voucher_id")
    if sqlite:
        set_foreign_keys(on=True)
    op.drop_table("order_lines")
    op.drop_table("voucher_ticket_types")
    op.drop_table("vouchers")
    op.drop_table("ticket_types")
