"""Everything a request needs, built once per app: chain reader, services, templates, caches."""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import httpx
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.templating import Jinja2Templates

from evidence.settings import get_evidence_settings
from frontend import i18n
from frontend.auth import AuthStore
from frontend.errors import Upstream
from frontend.services.batches import BatchService
from frontend.services.cache import IndexChanges, Lru, SharedRenders
from frontend.services.catalog import GRADE_LABELS, RECORD_LABELS, STAGE_LABELS
from frontend.services.chain import ChainReader, Head, head_from_block
from frontend.services.evidence import EvidenceService, outcomes_tag
from frontend.services.grants import GrantService
from frontend.services.lots import LotDirectory
from frontend.services.rpc import RawJsonRpc
from frontend.services.stamps import FactStamps
from frontend.services.wallet import WalletService
from frontend.services.writers import Writers
from frontend.settings import WebSettings
from tambon.chain import Chain
from tambon.cid import OnchainCid
from tambon.errors import TambonError
from tambon.index.reader import IndexHead, IndexReader
from tambon.index.store import IndexStore, default_url
from tambon.settings import Settings

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
T = TypeVar("T")
#: the evidence part of a lot's version while no worker has rendered the lot at its current facts
UNSEEN = "unseen"
#: the form of a lot's page the API serves; its other forms are the site's languages
JSON_FORM = "json"


def _cid_digest(cid: str | None) -> str:
    """The bytes32 the contracts store for a CID (what wallets show as `evidence`)."""
    if not cid:
        return "0x" + "00" * 32
    try:
        return "0x" + OnchainCid.parse(cid).digest.hex()
    except TambonError:
        return ""


def make_templates(lang: str, web: WebSettings, settings: Settings) -> Jinja2Templates:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html", "svg", "xml"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(i18n.translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.filters["date"] = lambda v, with_time=False: i18n.format_date(v, lang, with_time=with_time)
    env.filters["clock"] = lambda ts: f"{i18n.to_local(ts):%H:%M}" + (" น." if lang == "th" else "")
    env.filters["cid_digest"] = _cid_digest
    env.filters["money"] = lambda units, token: i18n.format_token(units, token, lang)
    env.filters["kg"] = lambda grams: (
        i18n.format_amount(grams, 3, lang, places=1) + (" กก." if lang == "th" else " kg")
    )
    env.filters["short"] = lambda a: f"{a[:6]}…{a[-4:]}" if isinstance(a, str) and len(a) > 12 else a
    env.filters["pct"] = lambda bps: i18n.format_amount(bps, 2, lang, places=1) + "%"
    env.filters["tojson_attr"] = lambda v: json.dumps(v, separators=(",", ":"))
    env.globals.update(
        record_labels=RECORD_LABELS,
        stage_labels=STAGE_LABELS,
        grade_labels=GRADE_LABELS,
        lang=lang,
        languages=i18n.LANGUAGES,
        org_name=web.org_name,
        local_name=lambda text: i18n.local_name(text, lang),
        gateway_url=settings.gateway_url,
        demo_chain=settings.network == "local",
    )
    return Jinja2Templates(env=env)


@dataclass(frozen=True, slots=True)
class IndexStatus:
    confirmed_s: float
    lag_blocks: int
    lag_s: int


@dataclass
class AppContext:
    settings: Settings
    web: WebSettings
    _pages: Lru[bytes] = field(init=False)

    def __post_init__(self) -> None:
        self._pages = Lru(self.web.page_cache_bytes, weigh=len)
        self._histories: Lru[Any] = Lru(self.web.page_cache_size)
        #: (facts, lot) -> the CIDs its page was last rendered from: what its version's evidence tag
        #: is made of, and what a page served from memory has re-checked; kept as long as the pages are
        self._lot_cids: Lru[tuple[str, ...]] = Lru(
            self.web.page_cache_bytes // 8, weigh=lambda cids: 64 + sum(map(len, cids))
        )
        self.templates = {lang: make_templates(lang, self.web, self.settings) for lang in i18n.LANGUAGES}
        self._http: httpx.AsyncClient | None = None
        self._head_inflight: asyncio.Future[Head] | None = None
        self._rpc: RawJsonRpc | None = None
        self._render_lock = threading.Lock()
        self._render_locks: dict[tuple, threading.Lock] = {}
        self._per_head: dict[str, tuple[str, Any]] = {}
        self._index_head: IndexHead | None = None
        #: verify pages answered from cache before routing (`frontend.web.pages.CachedBatchPages`)
        self.pages_served_ahead_of_routing = 0
        #: Digital Links answered before routing (`frontend.api.routes.gs1.DigitalLinksAhead`)
        self.links_resolved_ahead_of_routing = 0

    @cached_property
    def reader(self) -> ChainReader:
        return ChainReader(Chain(self.settings))

    @cached_property
    def evidence(self) -> EvidenceService:
        return EvidenceService(
            self.settings.gateway_url,
            self.settings.evidence_api_url,
            max_bytes=self.web.max_evidence_bytes,
            retry_seconds=self.web.evidence_retry_seconds,
            api_token=get_evidence_settings().token,
            recheck_seconds=self.web.evidence_recheck_seconds,
        )

    @cached_property
    def index(self) -> IndexReader | None:
        """The chain index, when the site reads one: configured (TAMBON_INDEX_URL) or found in the data dir."""
        if not self.web.read_index:
            return None
        return IndexReader.started(self.settings)

    @cached_property
    def _index_changes(self) -> IndexChanges:
        assert self.index is not None
        return IndexChanges(self.index.engine, self.web.index_poll_seconds)

    @cached_property
    def _fact_stamps(self) -> FactStamps:
        assert self.index is not None
        return FactStamps(self.index)

    @cached_property
    def _lot_directory(self) -> LotDirectory:
        assert self.index is not None
        return LotDirectory(self.index, self.web.gs1_company_prefix)

    def lots_at(self, head: Head) -> LotDirectory:
        """The resolver's (GTIN, lot code) lookup, in memory, true at `head` as far as the index has
        filled lot identities."""
        found = self._index_head
        if found is None or found.hash != head.hash:
            found = self.index.head() if self.index is not None else None
        return self._lot_directory.at(head, found.lots_block if found is not None else None)

    @cached_property
    def batches(self) -> BatchService:
        return BatchService(
            self.reader, self.evidence, self.settings.public_url, self.web.gs1_company_prefix, self.index
        )

    @cached_property
    def auth(self) -> AuthStore:
        """Sessions, quotas and rate limits in the index database (shared by workers and hosts); the
        site migrates it when it starts, as the follower does."""
        store = IndexStore(default_url(self.settings))
        store.migrate()
        return AuthStore(store)

    @cached_property
    def writers(self) -> Writers:
        return Writers(self.reader, self.grants)

    @cached_property
    def grants(self) -> GrantService:
        return GrantService(self.reader, self.index)

    @cached_property
    def wallet(self) -> WalletService:
        return WalletService(
            self.reader, self.grants, self.settings.data_dir, self.web.release_window_seconds
        )

    async def head(self) -> Head:
        """The block every read of a request is true at: the index's block when the site reads the
        index (read again only when the index database changed, see `IndexChanges`), else the node's
        latest block (one light JSON-RPC call).

        Requests that arrive while a head query is in flight share its answer (single flight), so a
        burst of page views costs one node round trip and never reads a head older than that trip.
        """
        if self.index is not None:
            found = self._index_head
            if self._index_changes.moved() or found is None:
                found = self.index.head()
                if found is None:
                    raise Upstream("the chain index is empty; run `tambon index run`")
                self._index_head = found  # how fresh it is, for the page's "as of" line
            return Head(found.number, found.hash, found.timestamp)
        pending = self._head_inflight
        if pending is not None and not pending.done() and pending.get_loop() is asyncio.get_running_loop():
            return await asyncio.shield(pending)
        task = asyncio.ensure_future(self._fetch_head())
        self._head_inflight = task
        return await asyncio.shield(task)

    async def preload(self) -> None:
        """On the index, read what requests keep in memory (every lot's facts stamp, the lot directory)
        before the first one: on a 10,000-lot index that took the first request seconds of the event
        loop. An index that is empty or not started yet is read by the requests, as before."""
        if self.index is None:
            return
        try:
            head = await self.head()
        except TambonError:
            return
        self._fact_stamps.move_to(head.number, head.hash)
        self.lots_at(head)

    async def _fetch_head(self) -> Head:
        params = ["latest", False]
        if self.settings.rpc_url.startswith("http://"):
            if self._rpc is None:
                self._rpc = RawJsonRpc(self.settings.rpc_url)
            return head_from_block(await self._rpc.call("eth_getBlockByNumber", params))
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=10.0)
        try:
            response = await self._http.post(
                self.settings.rpc_url,
                json={"jsonrpc": "2.0", "id": 1, "method": "eth_getBlockByNumber", "params": params},
            )
            block = response.json()["result"]
        except (httpx.HTTPError, KeyError, ValueError, TypeError) as exc:
            raise Upstream(f"chain node unreachable: {exc}") from exc
        return head_from_block(block)

    def index_status(self, head: Head) -> IndexStatus | None:
        """How fresh the index is at `head` (its block): when the follower last checked it against the
        chain, and how far behind the chain head it saw then (blocks, and seconds of chain time)."""
        if self.index is None:
            return None
        cur = self._index_head
        if cur is None or cur.hash != head.hash:
            cur = self.index.head()
            if cur is None:
                return None
        seen = cur.chain_head if cur.chain_head is not None else cur.number
        seen_at = cur.chain_head_time if cur.chain_head_time is not None else head.timestamp
        return IndexStatus(
            confirmed_s=max(0.0, time.time() - cur.confirmed_at),
            lag_blocks=max(0, seen - head.number),
            lag_s=max(0, seen_at - head.timestamp),
        )

    def version(self, head: Head | None, batch_id: int) -> str:
        """What a lot's page depends on: its facts, then the outcomes of the proofs its page shows
        (`EvidenceService.current_tag`; `UNSEEN` while no worker has rendered the lot at those facts).
        On the index the facts are the newest one touching the lot, its lineage or the registries (a
        new block alone changes nothing); on the node, the head's hash. So a lot's page is rendered
        again when its own facts or evidence change, not another lot's."""
        return self._version_at(self._facts(head, batch_id), batch_id)[0]

    def _version_at(self, facts: str, batch_id: int) -> tuple[str, tuple[str, ...] | None]:
        """The lot's version at `facts`, and the CIDs its evidence tag is made of (None when `UNSEEN`)."""
        cids = self._cids_shown(facts, batch_id)
        return f"{facts}/{UNSEEN if cids is None else self.evidence.current_tag(cids)}", cids

    def _facts(self, head: Head | None, batch_id: int) -> str:
        if self.index is None:
            assert head is not None
            return head.hash
        return self._stamp(head, batch_id)

    def _stamp(self, head: Head | None, batch_id: int) -> str:
        """The lot's facts stamp, from every lot's stamps in memory (`FactStamps`)."""
        if head is None:
            assert self.index is not None
            found = self.index.head()
            assert found is not None
            head = Head(found.number, found.hash, found.timestamp)
        return self._fact_stamps.stamp(head.number, head.hash, batch_id)

    def _cids_shown(self, facts: str, batch_id: int) -> tuple[str, ...] | None:
        """The CIDs the lot's page at `facts` was rendered from, by this worker or (read from the note
        beside the shared pages) another one, whose outcomes this worker then adopts for the CIDs it
        has not proven (`EvidenceService.adopt`) and re-checks when they come due."""
        found = self._lot_cids.get((facts, batch_id))
        if found is not None or self.shared_pages is None:
            return found
        note = self.shared_pages.note(("cids", facts, batch_id))
        if note is None:
            return None
        # [cid, outcome shown, when the rendering worker proved it]
        self.evidence.adopt({cid: status for cid, status, _ in note}, {cid: at for cid, _, at in note})
        cids = tuple(cid for cid, _, _ in note)
        self._lot_cids.put((facts, batch_id), cids)
        return cids

    def history(self, head: Head, batch_id: int, version: str | None = None):
        return self.versioned_history(head, batch_id, version)[1]

    def versioned_history(self, head: Head, batch_id: int, version: str | None = None) -> tuple[str, Any]:
        """The lot's history and its version: `version` (default: the current one) when this worker
        holds a history under it, else a new history kept under the version of the outcomes it shows,
        whose CIDs are remembered (and noted for the other workers) as the lot's at those facts."""
        version = version or self.version(head, batch_id)
        found = self._histories.get((version, batch_id))
        if found is not None:
            return version, found
        with self.evidence.collecting() as shown:
            history = self.batches.history(head, batch_id)
        facts = version.rpartition("/")[0]
        made = f"{facts}/{outcomes_tag(shown)}"
        self._histories.put((made, batch_id), history)
        self._lot_cids.put((facts, batch_id), tuple(sorted(shown)))
        if self.shared_pages is not None:
            self.shared_pages.put_note(
                ("cids", facts, batch_id),
                [[cid, status, self.evidence.checked_at(cid)] for cid, status in sorted(shown.items())],
            )
        return made, history

    def lot_page(self, head: Head, batch_id: int, form: str) -> tuple[tuple, bytes | None]:
        """A lot's page in `form` (its language, or `JSON_FORM` for the API) at the lot's current version: its
        cache key, and its bytes when rendered before (their stale proofs are then re-checked in the
        background) or None (the caller renders it with `render_lot_page`, off the event loop)."""
        version, cids = self._version_at(self._facts(head, batch_id), batch_id)
        key = ("batch", batch_id, version, form)
        if cids is None:
            return key, None
        body = self.cached_page(key)
        if body is not None:
            self.evidence.refresh(cids)
        return key, body

    def cached_page(self, key: tuple) -> bytes | None:
        """A page rendered before under `key`, if this process's cache or the workers' shared pages
        hold it (a file read, no thread hop)."""
        found = self._pages.get(key)
        shared = self.shared_pages
        if found is None and shared is not None:
            found = shared.find(key)
            if found is not None:
                self._pages.put(key, found)
        return found

    def per_head(self, name: str, head: Head, make: Callable[[], T]) -> T:
        """`make()` once per chain head: the value named `name` is kept until the head changes."""
        found = self._per_head.get(name)
        if found is not None and found[0] == head.hash:
            return found[1]
        value = make()
        self._per_head[name] = (head.hash, value)
        return value

    @cached_property
    def shared_pages(self) -> SharedRenders | None:
        """Pages shared by this site's worker processes (on the index, where a page's key names the
        facts it shows; on the node every block is a new key and sharing would only churn files)."""
        if self.index is None:
            return None
        site = json.dumps(
            [self.web.model_dump(mode="json"), self.settings.public_url, self.settings.gateway_url],
            sort_keys=True,
        )
        # one directory per site configuration: two sites on one data dir never share a page
        return SharedRenders(
            self.settings.data_dir / "web" / "pages" / hashlib.sha256(site.encode()).hexdigest()[:16]
        )

    def page(self, key: tuple, make: Callable[[], bytes]) -> bytes:
        """A rendered page from the cache, or rendered once however many requests (threads here, and
        worker processes through `shared_pages`) ask at the same time."""
        found = self._pages.get(key)
        if found is not None:
            return found
        with self._rendering(key):
            shared = self.shared_pages
            if shared is None:
                return self._pages.get_or_make(key, make)
            return self._pages.get_or_make(key, lambda: shared.get_or_make(key, make))

    def render_lot_page(self, key: tuple, make: Callable[[str], tuple[str, bytes]]) -> tuple[tuple, bytes]:
        """A lot's page for `key` (from `lot_page`), rendered once however many requests and workers
        ask at the same time, and the key it is kept under. `make(version)` renders from
        `versioned_history` and gives the version it rendered: that of the outcomes the page shows,
        which differs from the key's when a proof changed meanwhile or the lot was `UNSEEN`."""
        kind, batch_id, _, form = key
        with self._rendering(key):
            key = self._seen(key)  # a request that waited here may know the lot's CIDs now
            found = self.cached_page(key)
            if found is not None:
                return key, found
            shared = self.shared_pages
            if shared is None:
                made, body = make(key[2])
            else:
                with shared.exclusive(key):
                    key = self._seen(key)  # ... or learn them from a worker that rendered meanwhile
                    found = shared.find(key)
                    if found is not None:
                        self._pages.put(key, found)
                        return key, found
                    made, body = make(key[2])
                    shared.put((kind, batch_id, made, form), body)
            key = (kind, batch_id, made, form)
            self._pages.put(key, body)
            return key, body

    def _seen(self, key: tuple) -> tuple:
        """`key` of an `UNSEEN` lot with the evidence tag of its CIDs, once they are known."""
        kind, batch_id, version, form = key
        facts, _, tag = version.rpartition("/")
        if tag != UNSEEN:
            return key
        return (kind, batch_id, self._version_at(facts, batch_id)[0], form)

    @contextmanager
    def _rendering(self, key: tuple) -> Iterator[None]:
        """One thread of this process at a time renders under `key`."""
        with self._render_lock:
            lock = self._render_locks.setdefault(key, threading.Lock())
        try:
            with lock:
                yield
        finally:
            with self._render_lock:
                self._render_locks.pop(key, None)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
        if self._rpc is not None:
            await self._rpc.close()
