"""tickets indexed by event and holder, not by status

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07

Reviewed by hand for MySQL/MariaDB and SQLite. The tickets' index on (event_id, status) becomes one
on (event_id, user_id). Every admission at the door and in a sync changes a ticket's status, and
with status in an index each change also moved the ticket's entry in it (an entry delete-marked,
one inserted elsewhere, the old one purged later): measured, about a fifth of MariaDB's work a
synced scan. On MariaDB a batch's admissions also waited there for the locks of concurrent online
scans of other tickets of the event (the cycle test in test_gate_delete_locks.py). The new index
serves what the old one's `event_id` prefix did (an event's tickets, the foreign key) and makes a
buyer's tickets of one event one range (the purchase's held-seats count reads them with a lock);
the counts of an event's tickets by status read the rows now. The new index is made before the old
one goes: on MySQL/MariaDB the foreign key `event_id` needs one of them. No data moves.
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_tickets_event_id_user_id", "tickets", ["event_id", "user_id"])
    op.drop_index("ix_tickets_event_id_status", table_name="tickets")


def downgrade() -> None:
    op.create_index("ix_tickets_event_id_status", "tickets", ["event_id", "status"])
    op.drop_index("ix_tickets_event_id_user_id", table_name="tickets")
