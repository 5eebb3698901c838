"""the site's write state: sign-in nonces, sessions, upload bytes, rate-limit hits

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 09:40:00.000000
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "web_nonces",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("expires", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("nonce"),
    )
    op.create_table(
        "web_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("expires", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_table(
        "web_upload_bytes",
        sa.Column("account", sa.String(length=42), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account", "day"),
    )
    op.create_table(
        "web_rate_hits",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("expires", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key", "window_start"),
    )
    with op.batch_alter_table("web_rate_hits", schema=None) as batch_op:
        batch_op.create_index("ix_web_rate_hits_expires", ["expires"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("web_rate_hits", schema=None) as batch_op:
        batch_op.drop_index("ix_web_rate_hits_expires")
    op.drop_table("web_rate_hits")
    op.drop_table("web_upload_bytes")
    op.drop_table("web_sessions")
    op.drop_table("web_nonces")
