"""voucher codes compare byte for byte

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06

Voucher codes were stored under `utf8mb4_bin` on MySQL/MariaDB: case counted, but its PAD SPACE
comparison still found `SAVE10` for `SAVE10 `. They move to the binary NO PAD collation of
`ExactString`, like the other codes and tokens (0008). The change only splits values that compared
equal before, so the unique index on (event, code) keeps holding and rows are kept as they are.
SQLite compares bytes already: nothing to do there.

Downgrade returns the column to `utf8mb4_bin`; it fails if two codes of an event differ only in
trailing spaces by then (the unique index refuses them).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

from ticketflow.db.types import ExactString

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

CODE_MAX = 64


def _retype(exact: bool) -> None:
    if op.get_bind().dialect.name not in ("mysql", "mariadb"):
        return
    exact_type: sa.types.TypeEngine[str] = ExactString(CODE_MAX)
    binary_type = mysql.VARCHAR(CODE_MAX, charset="utf8mb4", collation="utf8mb4_bin")
    op.alter_column(
        "vouchers",
        "code",
        type_=exact_type if exact else binary_type,
        existing_type=binary_type if exact else exact_type,
        existing_nullable=False,
    )


def upgrade() -> None:
    _retype(exact=True)


def downgrade() -> None:
    _retype(exact=False)
