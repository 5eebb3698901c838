"""The migrations build the schema the code declares, and a later revision fills its table from what an
earlier index already holds."""

from __future__ import annotations

import json

from alembic import command
from sqlalchemy import insert, inspect, select

from tambon.index import schema
from tambon.index.reader import IndexReader
from tambon.index.store import IndexStore
from tambon.settings import Settings


def test_migrations__build_every_declared_table_and_column(tmp_path):
    store = IndexStore(f"sqlite:///{tmp_path / 'index.sqlite'}")
    store.migrate()
    found = inspect(store.engine)
    for table in schema.metadata.sorted_tables:
        assert {c["name"] for c in found.get_columns(table.name)} == set(table.columns.keys()), table.name
        assert {i["name"] for i in found.get_indexes(table.name)} == {i.name for i in table.indexes}, (
            table.name
        )


def test_migration_0005__coldchain_verdicts_filled_from_stored_events(tmp_path):
    store = IndexStore(f"sqlite:///{tmp_path / 'index.sqlite'}")
    with store.engine.begin() as conn:
        command.upgrade(store._alembic(conn), "0004")
    args = {"batchId": 7, "signer": "0x" + "11" * 20, "logCid": "0x" + "ab" * 32, "verdict": 1}
    row = {"block_number": 5, "log_index": 2, "block_hash": "0x" + "cd" * 32, "tx_hash": "0x" + "ef" * 32}
    with store.engine.begin() as conn:
        conn.execute(
            insert(schema.events),
            [
                row
                | {"contract": "AttestationRegistry", "name": "ColdChainAttested", "args": json.dumps(args)},
                row | {"log_index": 3, "contract": "AttestationRegistry", "name": "Attested", "args": "{}"},
            ],
        )
    store.migrate()
    with store.engine.connect() as conn:
        (found,) = conn.execute(select(schema.coldchain)).all()
    assert found._asdict() == row | {"batch_id": 7, "signer": args["signer"], "log_cid": args["logCid"]}


def test_started__not_while_the_follower_creates_or_upgrades_the_schema(tmp_path):
    # the oracle and the site ask whether an index has started as the follower creates it: a file with
    # no tables, or tables of an older revision, is "not started" (read the node), never a crash
    path = tmp_path / "index.sqlite"
    settings = Settings(data_dir=tmp_path, index_url=f"sqlite:///{path}")
    assert IndexReader.started(settings) is None
    path.touch()
    assert IndexReader.started(settings) is None
    store = IndexStore(settings.index_url)
    with store.engine.begin() as conn:
        command.upgrade(store._alembic(conn), "0004")
    assert IndexReader.started(settings) is None
    store.migrate()
    assert IndexReader.started(settings) is None  # current schema, but no block followed yet
    store.close()
