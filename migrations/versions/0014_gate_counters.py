"""gate counters in rows of their own

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06

Reviewed by hand for MySQL/MariaDB and SQLite. A gate's counters (admitted, refused, inside) move
from its `gates` row into 16 rows of a new table, `gate_counters` (`gate_id`, `slot`): a scan adds
to one of them, so the scans at one gate no longer take turns on the gate's row. Each gate's
counts move into its slot 0, the other slots start at zero, then the columns (and their CHECK
constraint) leave `gates`. SQLite rebuilds `gates` in batch mode with foreign key enforcement off,
so dropping the old table neither cascades to the counter rows nor clears scanners' and scans'
`gate_id`. The downgrade sums the slots back into the gate's row (`inside` clamped at zero).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

TABLE_OPTIONS = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
SLOTS = 16
"""`GATE_COUNTER_SLOTS` when this revision was written."""
COUNTERS_NOT_NEGATIVE = "admitted >= 0 AND inside >= 0 AND refused >= 0"


@contextmanager
def foreign_keys_off() -> Iterator[None]:
    """SQLite only: foreign key enforcement off (outside any transaction) while `gates` is rebuilt."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        with op.get_context().autocommit_block():
            op.execute("PRAGMA foreign_keys=OFF")
    yield
    if sqlite:
        with op.get_context().autocommit_block():
            op.execute("PRAGMA foreign_keys=ON")


def upgrade() -> None:
    op.create_table(
        "gate_counters",
        sa.Column("gate_id", ID, nullable=False),
        sa.Column("slot", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("admitted", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.Column("inside", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["gate_id"], ["gates.id"], name=op.f("fk_gate_counters_gate_id_gates"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("gate_id", "slot", name=op.f("pk_gate_counters")),
        **TABLE_OPTIONS,
    )
    op.execute(
        "INSERT INTO gate_counters (gate_id, slot, admitted, refused, inside)"
        " SELECT id, 0, admitted, refused, inside FROM gates"
    )
    for slot in range(1, SLOTS):
        op.execute(
            sa.text(
                "INSERT INTO gate_counters (gate_id, slot, admitted, refused, inside)"
                " SELECT id, :slot, 0, 0, 0 FROM gates"
            ).bindparams(slot=slot)
        )
    with foreign_keys_off(), op.batch_alter_table("gates") as batch:
        batch.drop_constraint(op.f("ck_gates_counters_not_negative"), type_="check")
        batch.drop_column("admitted")
        batch.drop_column("inside")
        batch.drop_column("refused")


def downgrade() -> None:
    for column in ("admitted", "inside", "refused"):
        op.add_column("gates", sa.Column(column, sa.Integer(), nullable=False, server_default="0"))
    op.execute(
        "UPDATE gates SET"
        " admitted = (SELECT COALESCE(SUM(c.admitted), 0) FROM gate_counters c WHERE c.gate_id = gates.id),"
        " refused = (SELECT COALESCE(SUM(c.refused), 0) FROM gate_counters c WHERE c.gate_id = gates.id),"
        " inside = (SELECT CASE WHEN COALESCE(SUM(c.inside), 0) < 0 THEN 0 ELSE COALESCE(SUM(c.inside), 0)"
        " END FROM gate_counters c WHERE c.gate_id = gates.id)"
    )
    op.drop_table("gate_counters")
    with foreign_keys_off(), op.batch_alter_table("gates") as batch:
        for column in ("admitted", "inside", "refused"):
            batch.alter_column(
                column, existing_type=sa.Integer(), existing_nullable=False, server_default=None
            )
        batch.create_check_constraint(op.f("ck_gates_counters_not_negative"), COUNTERS_NOT_NEGATIVE)
