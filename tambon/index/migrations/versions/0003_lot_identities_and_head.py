"""lot identities as facts; the chain head the follower saw

The first `lots` table kept one batch per (GTIN, lot code) and was never filled; it becomes a fact
table of lot identity changes (one row per change, tied to its log, undone by a reorg like every
fact). An index built before this revision has no lot rows: `tambon index rebuild` fills them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 09:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("lots", schema=None) as batch_op:
        batch_op.drop_index("ix_lots_block")
        batch_op.drop_index("ix_lots_batch_id")
    op.drop_table("lots")
    op.create_table(
        "lots",
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("batch_id", sa.BigInteger(), nullable=False),
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("lot_code", sa.String(length=20), nullable=False),
        sa.Column("crop", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("block_number", "log_index", "batch_id"),
    )
    with op.batch_alter_table("lots", schema=None) as batch_op:
        batch_op.create_index("ix_lots_lot", ["lot_code", "gtin"], unique=False)
        batch_op.create_index("ix_lots_crop", ["crop"], unique=False)
        batch_op.create_index("ix_lots_batch_id", ["batch_id"], unique=False)
    with op.batch_alter_table("cursor", schema=None) as batch_op:
        batch_op.add_column(sa.Column("head_number", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("head_timestamp", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cursor", schema=None) as batch_op:
        batch_op.drop_column("head_timestamp")
        batch_op.drop_column("head_number")
    with op.batch_alter_table("lots", schema=None) as batch_op:
        batch_op.drop_index("ix_lots_batch_id")
        batch_op.drop_index("ix_lots_crop")
        batch_op.drop_index("ix_lots_lot")
    op.drop_table("lots")
    op.create_table(
        "lots",
        sa.Column("gtin", sa.String(length=14), nullable=False),
        sa.Column("lot_code", sa.String(length=20), nullable=False),
        sa.Column("batch_id", sa.BigInteger(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("gtin", "lot_code"),
    )
    with op.batch_alter_table("lots", schema=None) as batch_op:
        batch_op.create_index("ix_lots_batch_id", ["batch_id"], unique=False)
        batch_op.create_index("ix_lots_block", ["block_number"], unique=False)
