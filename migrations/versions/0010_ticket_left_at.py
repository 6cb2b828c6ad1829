"""tickets remember leaving through a gate

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06

Reviewed by hand for MySQL/MariaDB and SQLite: one nullable column. A used ticket is inside
until an out-scan sets `left_at`; existing used tickets have none, so they stay inside as they
were, and no data moves. SQLite adds a nullable column in place; its downgrade rebuilds the
table with foreign key checks off (rows of other tables point at tickets).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ticketflow.db.types import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tickets", sa.Column("left_at", UTCDateTime(), nullable=True))


def set_foreign_keys(on: bool) -> None:
    """SQLite only: switch foreign key enforcement (outside any transaction)."""
    with op.get_context().autocommit_block():
        op.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


def downgrade() -> None:
    # SQLite rebuilds `tickets` to drop the column: the rows that reference it (scans, payments)
    # would fail the foreign key check while the old table is dropped, so it is off meanwhile.
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        set_foreign_keys(on=False)
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("left_at")
    if sqlite:
        set_foreign_keys(on=True)
