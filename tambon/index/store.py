"""The index store: SQLite (WAL, embedded, the default) or PostgreSQL, one schema, Alembic migrations.

    store = IndexStore.open(settings)      # TAMBON_INDEX_URL or <data dir>/index-<network>.sqlite
    store.migrate()                        # create or upgrade the schema
    with store.engine.connect() as conn:   # readers: plain SQLAlchemy Core over tambon.index.schema
        ...

Writes come only from the follower (`tambon.index.follower`): one transaction per block range that
holds the range's facts, its blocks and the new cursor, so a crash at any instant leaves the index at
the previous range's end, never between.
"""

from __future__ import annotations

import fcntl
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    case,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.pool import QueuePool

from tambon.errors import ConfigError
from tambon.events import Block, ChainEvent
from tambon.index import schema
from tambon.settings import Settings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: PostgreSQL advisory lock held while the schema is upgraded (any constant unique to this project)
MIGRATION_LOCK_KEY = 0x7A4B0_1D3


def encode_args(args: Mapping[str, Any]) -> str:
    """Event arguments as canonical JSON: bytes as 0x hex, keys sorted."""
    return _ARGS_ENCODER.encode(args)


class ArgsEncoder:
    """`encode_args` for the events of known ABIs: the same text, from a %-template per event when
    every argument is a static word (an int, an address, a bool or fixed bytes), in about half of
    json.dumps' time (a StepAdded: 3.0 instead of 5.5 µs), which a cold sync spends on every event."""

    def __init__(self, arg_types: Mapping[tuple[str, str], Sequence[tuple[str, str]]]) -> None:
        self._templates: dict[
            tuple[str, str], tuple[str, tuple[tuple[str, Callable[[Any], str] | None], ...]]
        ] = {}
        for kind, args in arg_types.items():
            pieces: list[str] = []
            fields: list[tuple[str, Callable[[Any], str] | None]] = []
            for name, abi_type in sorted(args):
                if re.fullmatch(r"u?int\d*", abi_type):
                    pieces.append(f'"{name}":%d')
                    fields.append((name, None))
                elif abi_type == "address":
                    pieces.append(f'"{name}":"%s"')
                    fields.append((name, None))
                elif abi_type == "bool":
                    pieces.append(f'"{name}":%s')
                    fields.append((name, _json_bool))
                elif re.fullmatch(r"bytes\d+", abi_type):
                    pieces.append(f'"{name}":"0x%s"')
                    fields.append((name, _hex))
                else:
                    break
            else:
                self._templates[kind] = ("{" + ",".join(pieces) + "}", tuple(fields))

    def encode(self, contract: str, name: str, args: Mapping[str, Any]) -> str:
        found = self._templates.get((contract, name))
        if found is None or len(args) != len(found[1]):
            return encode_args(args)
        template, fields = found
        return template % tuple(args[k] if convert is None else convert(args[k]) for k, convert in fields)


def _json_bool(value: bool) -> str:
    return "true" if value else "false"


def _hex(value: bytes) -> str:
    return value.hex()


#: event arguments stored as 0x hex that are `bytes` in a decoded event
_BYTES_ARGS = frozenset({"evidence", "modelSha256", "root", "proposal", "reason", "digest", "logCid"})


def stored_event(row: Any) -> ChainEvent:
    """An `events` row as the ChainEvent it was stored from."""
    args = json.loads(row.args)
    for key in _BYTES_ARGS & args.keys():
        args[key] = bytes.fromhex(args[key][2:])
    return ChainEvent(
        row.contract, row.name, args, row.block_number, row.block_hash, row.tx_hash, row.log_index
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    raise TypeError(f"cannot store {type(value).__name__} in the index")


#: one encoder for every event's arguments (json.dumps with options makes a new one per call)
_ARGS_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=_json_default)


def default_url(settings: Settings) -> str:
    if settings.index_url:
        return settings.index_url
    return f"sqlite:///{settings.data_dir / f'index-{settings.network}.sqlite'}"


@dataclass(frozen=True, slots=True)
class Cursor:
    block_number: int
    block_hash: str
    chain_id: int
    contracts: dict[str, str]
    updated_at: int
    head_number: int | None = None  # the chain head the follower saw last
    head_timestamp: int | None = None
    lots_block: int | None = None  # the last block whose lot identities are stored
    changes: int = 0  # bumped by every write that changes facts


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    # WAL: readers never block the follower; NORMAL sync is durable against a killed process
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


#: one table's rows for `IndexStore.write_range`: (columns, one tuple per row in their order)
TableRows = tuple[Sequence[str], Sequence[tuple[Any, ...]]]


class IndexStore:
    def __init__(self, url: str) -> None:
        self.url = url
        #: (table, columns) -> the insert statement's SQL and the columns' order in its parameters
        self._inserts: dict[tuple[str, tuple[str, ...]], tuple[str, list[int] | None]] = {}
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        if url.startswith("sqlite:///"):
            path = Path(url.removeprefix("sqlite:///"))
            path.parent.mkdir(parents=True, exist_ok=True)
            # pooled: opening a connection (and its pragmas) costs more than a page's queries; any
            # thread may use a pooled connection (one at a time); engines are made in each process
            self.engine: Engine = create_engine(
                url,
                poolclass=QueuePool,
                pool_size=8,
                max_overflow=32,
                connect_args={"timeout": 30, "check_same_thread": False},
            )
            event.listen(self.engine, "connect", _sqlite_pragmas)
        elif url.startswith(("postgresql+psycopg://", "sqlite://")):
            self.engine = create_engine(url, pool_pre_ping=True)
        else:
            raise ConfigError(f"index URL {self.url!r}: use sqlite:///path or postgresql://…")

    @classmethod
    def open(cls, settings: Settings) -> IndexStore:
        return cls(default_url(settings))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()

    # schema

    def _alembic(self, conn: Connection) -> Any:
        from alembic.config import Config  # only the follower and the CLI migrate: pages start faster

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection"] = conn
        return cfg

    def migrate(self) -> None:
        """Create or upgrade the schema to the newest migration.

        The follower and every web worker migrate when they start, possibly at the same instant: one
        lock (a file lock beside a SQLite file, an advisory lock in PostgreSQL) lets one upgrade at a
        time, and the others then find the schema current.
        """
        from alembic import command

        with self._migration_lock(), self.engine.begin() as conn:
            if self.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            command.upgrade(self._alembic(conn), "head")

    @contextmanager
    def _migration_lock(self) -> Iterator[None]:
        database = self.engine.url.database
        if self.dialect != "sqlite" or not database or database == ":memory:":
            yield
            return
        with open(f"{database}.migrate.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def schema_is_current(self) -> bool:
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        with self.engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
            return current == ScriptDirectory.from_config(self._alembic(conn)).get_current_head()

    # cursor

    def cursor(self, conn: Connection | None = None) -> Cursor | None:
        if conn is None:
            with self.engine.connect() as own:
                return self.cursor(own)
        row = conn.execute(select(schema.cursor).where(schema.cursor.c.id == 1)).first()
        if row is None:
            return None
        return Cursor(
            row.block_number,
            row.block_hash,
            row.chain_id,
            json.loads(row.contracts),
            row.updated_at,
            row.head_number,
            row.head_timestamp,
            row.lots_block,
            row.changes,
        )

    def start(self, block: Block, chain_id: int, contracts: Mapping[str, str]) -> None:
        """Begin an empty index whose cursor is `block` (the block before the deployment)."""
        with self.engine.begin() as conn:
            conn.execute(delete(schema.cursor))
            conn.execute(
                insert(schema.cursor).values(
                    id=1,
                    block_number=block.number,
                    block_hash=block.hash,
                    chain_id=chain_id,
                    contracts=json.dumps(dict(contracts), sort_keys=True),
                    updated_at=int(time.time()),
                    lots_block=block.number,
                    # from the clock: a rebuilt index never repeats the counter of the one it replaced
                    changes=time.time_ns() // 1_000_000,
                )
            )
            conn.execute(
                insert(schema.blocks).values(dict(zip(BLOCK_COLUMNS, _block_row(block), strict=True)))
            )

    def clear(self) -> None:
        """Drop every fact and the cursor (for `tambon index rebuild`)."""
        with self.engine.begin() as conn:
            for table in (*schema.FACT_TABLES, schema.signatures, schema.blocks, schema.cursor):
                conn.execute(delete(table))

    # writes (the follower)

    def write_range(
        self,
        rows: Mapping[str, TableRows],
        blocks: Iterable[Block],
        end: Block,
        expected_cursor: str,
        head: Block | None = None,
    ) -> None:
        """Store one range's facts, its blocks and the new cursor in one transaction.

        `rows`: table name -> (columns, row tuples). `expected_cursor` is the hash the cursor must
        still have (a second follower writing the same index makes this one stop instead of doubling
        facts).
        """
        changed = any(table_rows for _, table_rows in rows.values())
        c = schema.cursor.c
        with self.engine.begin() as conn:
            moved = conn.execute(
                update(schema.cursor)
                .where(c.id == 1, c.block_hash == expected_cursor)
                .values(
                    block_number=end.number,
                    block_hash=end.hash,
                    updated_at=int(time.time()),
                    changes=c.changes + 1 if changed else c.changes,
                    **_head(head),
                )
            )
            if moved.rowcount != 1:
                raise ConcurrentWriter("the index cursor moved under this follower: is another one running?")
            for name, (columns, table_rows) in rows.items():
                self._insert_many(conn, schema.metadata.tables[name], columns, table_rows)
            rows_blocks = {b.number: _block_row(b) for b in blocks}
            rows_blocks[end.number] = _block_row(end)
            conn.execute(delete(schema.blocks).where(schema.blocks.c.number.in_(list(rows_blocks))))
            self._insert_many(conn, schema.blocks, BLOCK_COLUMNS, list(rows_blocks.values()))

    def _insert_many(
        self, conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
    ) -> None:
        """One driver-level executemany of row tuples in the order of `columns` (no per-row statement
        compilation or type processing: every column the index stores is a plain int or str)."""
        if not rows:
            return
        key = (table.name, tuple(columns))
        found = self._inserts.get(key)
        if found is None:
            compiled = insert(table).compile(dialect=conn.dialect, column_keys=list(columns))
            order = None if compiled.positiontup is None else [columns.index(k) for k in compiled.positiontup]
            found = self._inserts[key] = (str(compiled), order)
        statement, order = found
        params: Sequence[Any]
        if order is None:  # named parameters (psycopg)
            params = [dict(zip(columns, r, strict=True)) for r in rows]
        elif order == list(range(len(columns))):
            params = rows
        else:
            params = [tuple(r[i] for i in order) for r in rows]
        conn.exec_driver_sql(statement, params)

    def confirm(self, block_hash: str, head: Block | None = None) -> None:
        """Record that the cursor's block was just checked against the chain, and the head seen then
        (the pages show both)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(schema.cursor)
                .where(schema.cursor.c.id == 1, schema.cursor.c.block_hash == block_hash)
                .values(updated_at=int(time.time()), **_head(head))
            )

    def rollback(self, fork: Block | tuple[int, str]) -> int:
        """Delete every fact above the fork block and move the cursor there; returns facts removed."""
        number, block_hash = (fork.number, fork.hash) if isinstance(fork, Block) else fork
        removed = 0
        c = schema.cursor.c
        with self.engine.begin() as conn:
            for table in schema.FACT_TABLES:
                removed += conn.execute(delete(table).where(table.c.block_number > number)).rowcount
            conn.execute(delete(schema.signatures).where(schema.signatures.c.block_number > number))
            conn.execute(delete(schema.blocks).where(schema.blocks.c.number > number))
            conn.execute(
                update(schema.cursor)
                .where(c.id == 1)
                .values(
                    block_number=number,
                    block_hash=block_hash,
                    updated_at=int(time.time()),
                    lots_block=case((c.lots_block > number, number), else_=c.lots_block),
                    changes=c.changes + 1,
                )
            )
        return removed

    # the lots pass (tambon.index.lots): identities filled behind the cursor

    def lot_events(self, after: int, limit: int) -> tuple[int, list[ChainEvent]]:
        """(upto, events): the registrations, steps and splits of whole blocks after `after`, about
        `limit` of them (a block is never cut), up to the cursor; `upto` is the last block covered."""
        e = schema.events
        kinds = (
            e.c.contract == "BatchProvenance",
            e.c.name.in_(("BatchRegistered", "StepAdded", "Split")),
        )
        with self.engine.connect() as conn:
            cur = self.cursor(conn)
            if cur is None:
                return after, []
            upto = cur.block_number
            last = conn.execute(
                select(e.c.block_number)
                .where(e.c.block_number > after, e.c.block_number <= upto, *kinds)
                .order_by(e.c.block_number, e.c.log_index)
                .offset(limit - 1)
                .limit(1)
            ).scalar()
            if last is not None:
                upto = int(last)
            rows = conn.execute(
                select(e)
                .where(e.c.block_number > after, e.c.block_number <= upto, *kinds)
                .order_by(e.c.block_number, e.c.log_index)
            )
            return upto, [stored_event(r) for r in rows]

    def write_lots(self, rows: Sequence[Mapping[str, Any]], after: int, upto: int) -> bool:
        """Store the lots rows of blocks (after, upto] and move the lots pass to `upto`, in one
        transaction; False (nothing stored) when the index moved back meanwhile (a reorg)."""
        c = schema.cursor.c
        with self.engine.begin() as conn:
            moved = conn.execute(
                update(schema.cursor)
                .where(c.id == 1, c.lots_block == after, c.block_number >= upto)
                .values(lots_block=upto)
            )
            if moved.rowcount != 1:
                return False
            if rows:
                columns = tuple(rows[0])
                self._insert_many(conn, schema.lots, columns, [tuple(r[k] for k in columns) for r in rows])
        return True

    def recent_blocks(self, limit: int) -> list[tuple[int, str]]:
        """The newest known blocks (number, hash), newest first: candidates for a fork point."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(schema.blocks.c.number, schema.blocks.c.hash)
                .order_by(schema.blocks.c.number.desc())
                .limit(limit)
            ).all()
        return [(r.number, r.hash) for r in rows]

    def origin_block(self) -> tuple[int, str] | None:
        """(number, hash) of the block the index started from (its oldest)."""
        b = schema.blocks.c
        with self.engine.connect() as conn:
            row = conn.execute(select(b.number, b.hash).order_by(b.number).limit(1)).first()
        return None if row is None else (int(row.number), str(row.hash))

    def lot_identities(self, batch_ids: Iterable[int]) -> dict[int, tuple[str, str, int]]:
        """The newest stored (gtin, lot code, crop) of each of these batches that has one."""
        wanted = sorted(set(batch_ids))
        lots = schema.lots
        out: dict[int, tuple[str, str, int]] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), 500):
                rows = conn.execute(
                    select(lots.c.batch_id, lots.c.gtin, lots.c.lot_code, lots.c.crop)
                    .where(lots.c.batch_id.in_(wanted[start : start + 500]))
                    .order_by(lots.c.block_number, lots.c.log_index)
                )
                for r in rows:
                    out[int(r.batch_id)] = (r.gtin, r.lot_code, int(r.crop))
        return out

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {
                t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
                for t in (*schema.FACT_TABLES, schema.signatures, schema.blocks)
            }


class ConcurrentWriter(ConfigError):
    """Another follower writes the same index."""


def _head(head: Block | None) -> dict[str, int]:
    return {} if head is None else {"head_number": head.number, "head_timestamp": head.timestamp}


BLOCK_COLUMNS = ("number", "hash", "parent_hash", "timestamp")


def _block_row(block: Block) -> tuple[int, str, str, int]:
    return block.number, block.hash, block.parent_hash, block.timestamp
