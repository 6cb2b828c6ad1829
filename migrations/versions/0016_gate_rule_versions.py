"""a version of each gate's rule

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06

Reviewed by hand for MySQL/MariaDB and SQLite. `gates.rule_version` (0 for every gate) grows by one
with every change of a gate: the door keeps the rules of the gates it scans at per server process
and reads a gate's rule again only when its version is not the one it holds.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("gates") as batch:
        batch.add_column(sa.Column("rule_version", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("gates") as batch:
        batch.drop_column("rule_version")
