"""cold-chain verdicts as facts of their lot

`coldchain`: one row per ColdChainAttested event (lot, signer, log CID), so a verdict moves the page of
the lot it is about and the page reads its verdicts from the index. Filled here from the `events`
table, which has held every decoded log since the first revision.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 15:30:00
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    coldchain = op.create_table(
        "coldchain",
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("batch_id", sa.BigInteger(), nullable=False),
        sa.Column("signer", sa.String(length=42), nullable=False),
        sa.Column("log_cid", sa.String(length=66), nullable=False),
        sa.PrimaryKeyConstraint("block_number", "log_index"),
    )
    with op.batch_alter_table("coldchain", schema=None) as batch_op:
        batch_op.create_index("ix_coldchain_batch_id", ["batch_id"], unique=False)
    events = sa.table(
        "events",
        sa.column("block_number", sa.BigInteger()),
        sa.column("log_index", sa.Integer()),
        sa.column("block_hash", sa.String()),
        sa.column("tx_hash", sa.String()),
        sa.column("name", sa.String()),
        sa.column("args", sa.Text()),
    )
    found = op.get_bind().execute(sa.select(events).where(events.c.name == "ColdChainAttested"))
    rows = [
        {
            "block_number": r.block_number,
            "log_index": r.log_index,
            "block_hash": r.block_hash,
            "tx_hash": r.tx_hash,
            "batch_id": int(args["batchId"]),
            "signer": args["signer"],
            "log_cid": args["logCid"],
        }
        for r in found
        for args in (json.loads(r.args),)
    ]
    if rows:
        op.bulk_insert(coldchain, rows)


def downgrade() -> None:
    with op.batch_alter_table("coldchain", schema=None) as batch_op:
        batch_op.drop_index("ix_coldchain_batch_id")
    op.drop_table("coldchain")
