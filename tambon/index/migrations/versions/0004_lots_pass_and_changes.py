"""lot identities filled by a second pass behind the cursor; a change counter for readers

`cursor.lots_block`: the last block whose lot identities are stored. The follower stores facts first
and fills `lots` behind them (reading records is the slow part of a sync), so the two can differ.
An index built before this revision filled lots with the facts: its lots are as far as its cursor.

`cursor.changes`: bumped by every write that changes facts (a range with events, a reorg), never by a
new empty block: a reader that remembers it knows in one primary-key read whether anything changed.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 14:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cursor", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lots_block", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("changes", sa.BigInteger(), nullable=False, server_default="0"))
    op.execute("UPDATE cursor SET lots_block = block_number")


def downgrade() -> None:
    with op.batch_alter_table("cursor", schema=None) as batch_op:
        batch_op.drop_column("changes")
        batch_op.drop_column("lots_block")
