"""attendee names on tickets

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05

Reviewed by hand for MySQL/MariaDB and SQLite: one nullable column, so existing tickets keep
showing their holder's name and no data moves. SQLite adds a nullable column in place.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tickets", sa.Column("attendee_name", sa.String(length=120), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("attendee_name")
