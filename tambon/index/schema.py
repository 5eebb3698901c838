"""The index's tables: one append-only fact table per domain idea, each row tied to its log.

Every fact carries the block number, block hash and log index (and transaction hash) of the log it
came from, so a reorg is undone by deleting the facts above the fork point, and every fact can be
re-read from the chain and compared (`tambon index verify`). Current state (who holds a batch, is a
key revoked) is derived from the facts when read. Big unsigned integers (amounts, step data words)
are stored as decimal text: SQLite and PostgreSQL integers stop at 2**63.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

metadata = MetaData()

HASH = String(66)
ADDRESS = String(42)


def _fact(name: str, *columns: Column, extra_key: tuple[str, ...] = ()) -> Table:
    return Table(
        name,
        metadata,
        Column("block_number", BigInteger, nullable=False),
        Column("log_index", Integer, nullable=False),
        Column("block_hash", HASH, nullable=False),
        Column("tx_hash", HASH, nullable=False),
        *columns,
        PrimaryKeyConstraint("block_number", "log_index", *extra_key),
    )


#: one row: the last block whose facts are all stored, and its hash
cursor = Table(
    "cursor",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("block_number", BigInteger, nullable=False),
    Column("block_hash", HASH, nullable=False),
    Column("chain_id", BigInteger, nullable=False),
    Column("contracts", Text, nullable=False),  # JSON: name -> address the index was built for
    Column("updated_at", BigInteger, nullable=False),
    # the chain head the follower saw last, for the lag the pages show
    Column("head_number", BigInteger, nullable=True),
    Column("head_timestamp", BigInteger, nullable=True),
    # the last block whose lot identities are stored (the follower fills `lots` behind the cursor)
    Column("lots_block", BigInteger, nullable=True),
    # bumped by every write that changes facts (a range with events, a reorg), not by empty blocks
    Column("changes", BigInteger, nullable=False, server_default="0"),
)

#: blocks the index has seen: every block that holds a fact, and every range end
blocks = Table(
    "blocks",
    metadata,
    Column("number", BigInteger, primary_key=True),
    Column("hash", HASH, nullable=False),
    Column("parent_hash", HASH, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
)

#: every decoded log, as it came (the source the typed tables below are derived from)
events = _fact(
    "events",
    Column("contract", String(64), nullable=False),
    Column("name", String(64), nullable=False),
    Column("args", Text, nullable=False),  # canonical JSON (see tambon.index.store.encode_args)
)

batches = _fact(
    "batches",
    Column("batch_id", BigInteger, nullable=False),
    Column("producer", ADDRESS, nullable=False),
    Column("evidence", HASH, nullable=False),
    Column("codec", Integer, nullable=False),
    Column("crop", Integer, nullable=False),
    Column("quantity_grams", BigInteger, nullable=False),
    Column("harvest_day", Integer, nullable=False),
)
Index("ix_batches_batch_id", batches.c.batch_id, unique=True)

steps = _fact(
    "steps",
    Column("batch_id", BigInteger, nullable=False),
    Column("step_index", Integer, nullable=False),
    Column("stage", Integer, nullable=False),
    Column("actor", ADDRESS, nullable=False),
    Column("evidence", HASH, nullable=False),
    Column("codec", Integer, nullable=False),
    Column("data", Text, nullable=False),
)
Index("ix_steps_batch_id", steps.c.batch_id)

#: ERC-721 transfers of batches (mints included: sender is the zero address)
custody = _fact(
    "custody",
    Column("batch_id", BigInteger, nullable=False),
    Column("sender", ADDRESS, nullable=False),
    Column("receiver", ADDRESS, nullable=False),
)
Index("ix_custody_batch_id", custody.c.batch_id)

#: parent -> child links from splits and merges (one row per link)
lineage = _fact(
    "lineage",
    Column("child_id", BigInteger, nullable=False),
    Column("parent_id", BigInteger, nullable=False),
    Column("kind", String(8), nullable=False),  # split | merge
    Column("actor", ADDRESS, nullable=False),
    extra_key=("child_id", "parent_id"),
)
Index("ix_lineage_child", lineage.c.child_id)
Index("ix_lineage_parent", lineage.c.parent_id)

attestations = _fact(
    "attestations",
    Column("batch_id", BigInteger, nullable=False),
    Column("signer", ADDRESS, nullable=False),
    Column("evidence", HASH, nullable=False),
    Column("grade", Integer, nullable=False),
    Column("size_code", Integer, nullable=False),
    Column("confidence_bps", Integer, nullable=False),
    Column("model_sha256", HASH, nullable=False),
    Column("graded_at", BigInteger, nullable=False),
)
Index("ix_attestations_batch_id", attestations.c.batch_id)

#: cold-chain verdicts (ColdChainAttested): the lot each is about, so a verdict moves that lot's page
coldchain = _fact(
    "coldchain",
    Column("batch_id", BigInteger, nullable=False),
    Column("signer", ADDRESS, nullable=False),
    Column("log_cid", HASH, nullable=False),
)
Index("ix_coldchain_batch_id", coldchain.c.batch_id)

#: signed data that reached the chain in calldata: the oracle signatures of attest / attestMany
signatures = Table(
    "signatures",
    metadata,
    Column("tx_hash", HASH, primary_key=True),
    Column("block_number", BigInteger, nullable=False),
    Column("function", String(64), nullable=False),  # attest | attestMany | (other: relayed)
    Column("signature", Text, nullable=False),  # 0x hex ("" when relayed through another contract)
    Column("items", Text, nullable=False),  # JSON list of the signed attestations' fields
)
Index("ix_signatures_block", signatures.c.block_number)

grants = _fact(
    "grants",
    Column("grant_id", BigInteger, nullable=False),
    Column("recipient", ADDRESS, nullable=False),
    Column("token", ADDRESS, nullable=False),
    Column("budget", Text, nullable=False),
    Column("milestone_count", Integer, nullable=False),
    Column("proposal", HASH, nullable=False),
    Column("proposal_codec", Integer, nullable=False),
    Column("creator", ADDRESS, nullable=False),
)
Index("ix_grants_grant_id", grants.c.grant_id)

#: money into and out of a grant other than milestone payments
grant_funds = _fact(
    "grant_funds",
    Column("grant_id", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),  # funded | cancelled | refund
    Column("account", ADDRESS, nullable=True),
    Column("amount", Text, nullable=False),
    Column("total", Text, nullable=True),
)
Index("ix_grant_funds_grant_id", grant_funds.c.grant_id)

milestones = _fact(
    "milestones",
    Column("grant_id", BigInteger, nullable=False),
    Column("milestone_id", Integer, nullable=False),
    Column("kind", String(16), nullable=False),  # scheduled | submitted | released | rejected | escalated
    Column("amount", Text, nullable=True),
    Column("deadline", BigInteger, nullable=True),
    Column("evidence", HASH, nullable=True),  # submitted: evidence; rejected: reason
    Column("codec", Integer, nullable=True),
    Column("nonce", Text, nullable=True),
    Column("submitted_at", BigInteger, nullable=True),
)
Index("ix_milestones_grant", milestones.c.grant_id, milestones.c.milestone_id)

#: council membership, threshold and on-chain approvals of a digest
council = _fact(
    "council",
    Column("kind", String(16), nullable=False),  # member_added | member_removed | threshold | approved
    Column("member", ADDRESS, nullable=True),
    Column("threshold", Integer, nullable=True),
    Column("digest", HASH, nullable=True),
)

producers = _fact(
    "producers",
    Column("account", ADDRESS, nullable=False),
    Column("kind", String(16), nullable=False),  # registered | revoked
    Column("registration_id", Text, nullable=True),
    Column("name", Text, nullable=True),
)
Index("ix_producers_account", producers.c.account)

keys = _fact(
    "keys",
    Column("key", ADDRESS, nullable=False),
    Column("kind", String(16), nullable=False),  # added | revoked
    Column("at", BigInteger, nullable=False),
)
Index("ix_keys_key", keys.c.key)

models = _fact(
    "models",
    Column("model_sha256", HASH, nullable=False),
    Column("kind", String(16), nullable=False),  # approved | revoked
    Column("at", BigInteger, nullable=False),
)
Index("ix_models_sha", models.c.model_sha256)

#: GS1 lot identity changes (tambon.lots): from this log on, the batch answers to (GTIN, lot code).
#: gtin "" means the crop's GTIN under the site's company prefix (a site setting, applied when read);
#: lot_code "" means no lot code assigned yet. A batch's identity is its newest row.
lots = _fact(
    "lots",
    Column("batch_id", BigInteger, nullable=False),
    Column("gtin", String(14), nullable=False),
    Column("lot_code", String(20), nullable=False),
    Column("crop", Integer, nullable=False),
    extra_key=("batch_id",),
)
Index("ix_lots_lot", lots.c.lot_code, lots.c.gtin)
Index("ix_lots_crop", lots.c.crop)
Index("ix_lots_batch_id", lots.c.batch_id)

#: The site's write state, shared by every web worker on every host that uses this database: sign-in
#: nonces, wallet sessions (the token's sha256), bytes uploaded per account and UTC day, and rate-limit
#: hits per key and fixed window. Not chain facts: a reorg or `tambon index rebuild` leaves them be.
web_nonces = Table(
    "web_nonces",
    metadata,
    Column("nonce", String(64), primary_key=True),
    Column("expires", BigInteger, nullable=False),
)

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("address", ADDRESS, nullable=False),
    Column("expires", BigInteger, nullable=False),
)

web_upload_bytes = Table(
    "web_upload_bytes",
    metadata,
    Column("account", ADDRESS, nullable=False),
    Column("day", Integer, nullable=False),
    Column("bytes", BigInteger, nullable=False),
    PrimaryKeyConstraint("account", "day"),
)

web_rate_hits = Table(
    "web_rate_hits",
    metadata,
    Column("key", String(200), nullable=False),
    Column("window_start", BigInteger, nullable=False),
    Column("hits", Integer, nullable=False),
    Column("expires", BigInteger, nullable=False),
    PrimaryKeyConstraint("key", "window_start"),
)
Index("ix_web_rate_hits_expires", web_rate_hits.c.expires)

#: facts removed by a reorg are deleted from these tables (all but cursor)
FACT_TABLES = (
    events,
    batches,
    steps,
    custody,
    lineage,
    attestations,
    coldchain,
    grants,
    grant_funds,
    milestones,
    council,
    producers,
    keys,
    models,
    lots,
)
