"""a sync lock row per scanner

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06

Reviewed by hand for MySQL/MariaDB and SQLite. A new table, `scanner_syncs` (`scanner_id`), holds
one row per device that has synced: a device's batches of offline scans lock its row instead of
the device's `scanners` row, which a scan-log INSERT by the same device's online scans needs a
shared lock on (its foreign key). A row is made with each new scanner; every existing scanner
gets its row here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
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
        "scanner_syncs",
        sa.Column("scanner_id", ID, autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(
            ["scanner_id"],
            ["scanners.id"],
            name=op.f("fk_scanner_syncs_scanner_id_scanners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("scanner_id", name=op.f("pk_scanner_syncs")),
        **TABLE_OPTIONS,
    )
    op.execute("INSERT INTO scanner_syncs (scanner_id) SELECT id FROM scanners")


def downgrade() -> None:
    op.drop_table("scanner_syncs")
