"""token columns compare byte for byte

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06

Ticket codes, idempotency keys, provider ids, message ids and claim tokens were compared under the
tables' `utf8mb4_unicode_ci` on MySQL/MariaDB: an upper-cased code, or one with trailing spaces or
a trailing control character, found the real ticket. They move to a binary NO PAD collation
(`utf8mb4_nopad_bin` on MariaDB, whose `utf8mb4_bin` still ignores trailing spaces;
`utf8mb4_0900_bin` on MySQL 8). The change only splits values that compared equal before, so
every unique index keeps holding; rows are kept as they are. SQLite compares bytes already:
nothing to do there.

Downgrade returns the columns to the table collation; it fails if two rows differ only in case
or trailing spaces by then (the unique indexes refuse them), which is the point of the upgrade.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ticketflow.db.types import ExactString

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TOKEN_COLUMNS = (  # (table, column, length, nullable)
    ("tickets", "code", 64, False),
    ("check_ins", "scanned_code", 128, False),
    ("orders", "idempotency_key", 64, True),
    ("orders", "request_fingerprint", 64, True),
    ("payment_checkouts", "external_id", 255, False),
    ("payment_checkouts", "access_token", 64, True),
    ("payments", "provider_payment_id", 255, False),
    ("refunds", "provider_refund_id", 255, True),
    ("payment_provider_events", "event_id", 255, False),
    ("outbox_messages", "message_id", 128, False),
    ("outbox_messages", "claimed_by", 64, True),
)


def _retype(exact: bool) -> None:
    """Every token column to the exact collation (or back to the table's), on MySQL/MariaDB only."""
    if op.get_bind().dialect.name not in ("mysql", "mariadb"):
        return
    for table, column, length, nullable in TOKEN_COLUMNS:
        exact_type, table_type = ExactString(length), sa.String(length, collation="utf8mb4_unicode_ci")
        op.alter_column(
            table,
            column,
            type_=exact_type if exact else table_type,
            existing_type=table_type if exact else exact_type,
            existing_nullable=nullable,
        )


def upgrade() -> None:
    _retype(exact=True)


def downgrade() -> None:
    _retype(exact=False)
