"""tickets remember leaving through a gate

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06

Reviewed by hand for MySQL/MariaDB and SQLite: one nullable column. A used ticket is inside
until an out-scan sets `left_at`; existing used tickets have none, so they stay inside as they
were, and no data moves. SQLite adds a nullable column in place.
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


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("left_at")
