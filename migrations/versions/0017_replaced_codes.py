"""replaced tf1 codes

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06

Reviewed by hand for MySQL/MariaDB and SQLite. A new table, `replaced_codes`: the `tf1.` code a
reissue took from its ticket (a signed code carries its ticket and version and needs no row), so
that a scan of it is logged with its ticket. `old_code` is unique: a ticket loses its `tf1.` code
once. No data moves: the codes reissues replaced before this revision were not kept.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ticketflow.db.types import ExactString, UTCDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

TABLE_OPTIONS = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "replaced_codes",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("ticket_id", ID, nullable=False),
        sa.Column("old_version", sa.Integer(), nullable=False),
        sa.Column("old_code", ExactString(128), nullable=False),
        sa.Column("replaced_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_replaced_codes_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replaced_codes")),
        sa.UniqueConstraint("old_code", name=op.f("uq_replaced_codes_old_code")),
        **TABLE_OPTIONS,
    )
    op.create_index(op.f("ix_replaced_codes_ticket_id"), "replaced_codes", ["ticket_id"])


def downgrade() -> None:
    op.drop_table("replaced_codes")
