"""users.locale: the language of a user's e-mails and pages

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05

Reviewed by hand for MySQL/MariaDB and SQLite: existing users read English (the server default),
the check constraint keeps the column to the languages the catalogues provide. SQLite cannot add
a constraint to a table, so the batch operation rebuilds `users` there.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locale", sa.String(length=8), server_default="en", nullable=False))
        batch_op.create_check_constraint(op.f("ck_users_locale_known"), "locale IN ('en', 'es')")


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_users_locale_known"), type_="check")
        batch_op.drop_column("locale")
